import { readingsOf } from './drivers';
import type { DecodeErrorCode, DecodeResult } from './types';

/** One stored-reading value of a decoded telegram: the driver's field name with its unit. */
export interface TelegramReadingValue {
  /** The wmbusmeters field name the driver gives the value ("total_m3", "target_m3", ...). */
  quantity: string;
  unit: string;
  value: number;
  storage: number;
  tariff: number;
}

export interface DecodedTelegramReadings {
  ok: true;
  driver: string;
  /** Manufacturer, device type and version from the decoded header. */
  manufacturer: string;
  deviceType: number;
  version: number;
  /** The meter's status string as its driver builds it ("OK", "LEAK", "BURST POWER_LOW", ...). */
  status: string;
  /** The meter reported a permanent or temporary error (readings get a non-zero quality when stored). */
  meterError: boolean;
  values: TelegramReadingValue[];
}

export interface FailedTelegramReadings {
  ok: false;
  code: DecodeErrorCode;
  /** The decoder's message: names the meter and the layer, never key material. */
  message: string;
}

export type TelegramReadingsOutcome = DecodedTelegramReadings | FailedTelegramReadings;

/** TPL status bits 3 (permanent error) and 4 (temporary error), as the drivers name them. */
const METER_ERROR_TOKENS = new Set(['PERMANENT_ERROR', 'TEMPORARY_ERROR', 'ERROR', 'ALARM']);

/**
 * What a decoded telegram means as readings: the driver's named values with units, the status string and
 * whether the meter reports an error. The same mapping the decryptor applies before storing, for callers that
 * decode without storing (the API's decrypt service).
 */
export function telegramReadings(result: DecodeResult): TelegramReadingsOutcome {
  if (!result.ok || !result.header) {
    return {
      ok: false,
      code: result.error?.code ?? 'BAD_INPUT',
      message: result.error?.message ?? 'decoder returned no header',
    };
  }
  const status = typeof result.fields.status === 'string' ? result.fields.status : 'OK';
  return {
    ok: true,
    driver: result.driver ?? 'generic',
    manufacturer: result.header.manufacturer,
    deviceType: result.header.deviceType,
    version: result.header.version,
    status,
    meterError: status.split(' ').some((token) => METER_ERROR_TOKENS.has(token)),
    values: readingsOf(result.header, result.records).map((reading) => ({
      quantity: reading.name,
      unit: reading.unit,
      value: reading.value,
      storage: reading.storage,
      tariff: reading.tariff,
    })),
  };
}
