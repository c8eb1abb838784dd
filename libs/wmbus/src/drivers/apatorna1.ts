import { aesCbcDecryptWithMeterKey } from '../security/cbc';
import { toHex } from '../hex';
import type { DataRecord, FieldValue, TelegramHeader } from '../types';
import type { DriverMapping, ManufacturerPayloadOutcome, MeterDriver } from './driver';
import { headerFields, jsonNumber } from './fields';
import { bitTokens, joinStatus, type BitName } from './status';

/**
 * Apator NA-1 water meter (APA, version 0x14, device type 0x07): wmbusmeters' `apatorna1` driver as
 * of the pinned snapshot (spec §4.4). The payload after the manufacturer-specific CI is ACC, frame
 * status, then one AES-128-CBC block encrypted with the meter key and the mode-5 IV (M ‖ A ‖ ACC×8).
 */

const ACC_OFFSET = 0;
const FRAME_STATUS_OFFSET = 1;
const CIPHERTEXT_OFFSET = 2;
const CIPHERTEXT_LENGTH = 16;
/**
 * The first plaintext byte is 0x2F in every known telegram (the OMS filler byte that mode 5 puts in
 * front of its records); it is the only fixed byte, so a wrong key passes this check 1 time in 256.
 */
const PLAINTEXT_MARKER = 0x2f;

/** Offsets inside the decrypted block. */
const PACKED_TOTAL = 1;
const METER_SECONDS = 5;
const HISTORIC_AGE_LOW = 9;
const HISTORIC_AGE_META = 10;
const HISTORIC_DELTA = 11;
const CURRENT_STATUS = 14;
const HISTORIC_STATUS = 15;

const MULTIPLIERS = [1, 10, 100, 1000] as const;
const EPOCH_2000_MS = Date.UTC(2000, 0, 1);
const HOUR_MS = 3_600_000;

const FRAME_STATUS_BITS: readonly BitName[] = [
  { bit: 0, name: 'SUMMER_TIME' },
  { bit: 1, name: 'HISTORICAL_INDICATION' },
  { bit: 2, name: 'MAX_SPEED_EXCEEDED' },
  { bit: 3, name: 'DEVICE_ACCESS_ERROR' },
  { bit: 4, name: 'TWO_WAY_COM_BLOCK' },
  { bit: 5, name: 'INSTALL_FRAME' },
  { bit: 6, name: 'WRONG_TEMPERATURE' },
  { bit: 7, name: 'SERVICE_EVENT' },
];

const CURRENT_STATUS_BITS: readonly BitName[] = [
  { bit: 0, name: 'BATTERY_LOW' },
  { bit: 1, name: 'MAGNETIC_FIELD' },
  { bit: 2, name: 'DEVICE_DISCONNECTED' },
  { bit: 3, name: 'LEAK' },
  { bit: 4, name: 'MEASUREMENT_UNCHANGED' },
  { bit: 5, name: 'REVERSE_FLOW' },
  { bit: 6, name: 'MAXIMUM_FLOW' },
  { bit: 7, name: 'MINIMUM_FLOW' },
];

const HISTORIC_STATUS_BITS: readonly BitName[] = [
  { bit: 0, name: 'BATTERY_LIFETIME_THRESHOLD_EXCEEDED' },
  ...CURRENT_STATUS_BITS.slice(1),
];

/** Status records carry the raw byte; the driver names its bits. Keys double as the JSON field names. */
const STATUS_LOOKUPS: ReadonlyArray<{ key: string; bits: readonly BitName[]; leftover: string }> = [
  { key: 'current_status', bits: CURRENT_STATUS_BITS, leftover: 'CURRENT_STATUS' },
  { key: 'frame_status', bits: FRAME_STATUS_BITS, leftover: 'FRAME_STATUS_FLAGS' },
  { key: 'historic_status', bits: HISTORIC_STATUS_BITS, leftover: 'HISTORIC_STATUS' },
];

/** Field order of wmbusmeters' JSON; every one is filled from the record with the same key. */
const VALUE_FIELDS = [
  'historic_m3',
  'historic_datetime',
  'historic_age_h',
  'meter_datetime',
  'total_m3',
] as const;

function formatMinutes(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 16).replace('T', ' ');
}

function record(
  key: string,
  offset: number,
  raw: Buffer,
  quantity: string,
  unit: string,
  value: number | string,
  storage = 0,
): DataRecord {
  const hex = toHex(raw);
  return {
    key,
    header: '',
    offset,
    function: 'instantaneous',
    storage,
    tariff: 0,
    subunit: 0,
    quantity,
    unit,
    value,
    raw: hex,
    combinable: [],
  };
}

/**
 * Decrypts and parses the NA-1 payload (the bytes after the CI). `ivPrefix` is M ‖ A as on the wire;
 * `payloadOffset` is where the payload starts in the frame, for the records' offsets.
 */
export function decodeApatorna1Payload(
  payload: Buffer,
  ivPrefix: Buffer,
  key: Buffer,
  payloadOffset: number,
): ManufacturerPayloadOutcome {
  if (payload.length < CIPHERTEXT_OFFSET + CIPHERTEXT_LENGTH) return { ok: false, reason: 'truncated' };
  const iv = Buffer.alloc(16, payload[ACC_OFFSET]);
  ivPrefix.copy(iv, 0, 0, 8);
  const ciphertext = payload.subarray(CIPHERTEXT_OFFSET, CIPHERTEXT_OFFSET + CIPHERTEXT_LENGTH);
  const plain = aesCbcDecryptWithMeterKey(key, iv, ciphertext);
  if (plain[0] !== PLAINTEXT_MARKER) return { ok: false, reason: 'verification' };

  const at = (plainOffset: number): number => payloadOffset + CIPHERTEXT_OFFSET + plainOffset;
  const packed = plain.readUInt32LE(PACKED_TOTAL);
  const multiplier = MULTIPLIERS[(packed >>> 4) & 3];
  const totalM3 = (((packed >>> 8) * 16 + (packed & 15)) * multiplier) / 1000;
  const meterMs = EPOCH_2000_MS + plain.readUInt32LE(METER_SECONDS) * 1000;
  const meta = plain[HISTORIC_AGE_META];
  const ageHours = (meta >> 2) * 256 + plain[HISTORIC_AGE_LOW];
  const [b0, b1, b2] = plain.subarray(HISTORIC_DELTA, HISTORIC_DELTA + 3);
  const deltaUnits = b2 * 2 ** 18 + b1 * 2 ** 10 + b0 * 4 + (meta & 3);
  const historicM3 = totalM3 - (deltaUnits * multiplier) / 1000;
  const historicBytes = plain.subarray(HISTORIC_AGE_LOW, HISTORIC_DELTA + 3);

  const records: DataRecord[] = [
    record(
      'total_m3',
      at(PACKED_TOTAL),
      plain.subarray(PACKED_TOTAL, PACKED_TOTAL + 4),
      'volume',
      'm3',
      totalM3,
    ),
    record(
      'meter_datetime',
      at(METER_SECONDS),
      plain.subarray(METER_SECONDS, METER_SECONDS + 4),
      'datetime',
      'datetime',
      formatMinutes(meterMs),
    ),
    record('historic_m3', at(HISTORIC_AGE_LOW), historicBytes, 'volume', 'm3', historicM3, 1),
    record(
      'historic_datetime',
      at(HISTORIC_AGE_LOW),
      historicBytes.subarray(0, 2),
      'datetime',
      'datetime',
      formatMinutes(meterMs - ageHours * HOUR_MS),
      1,
    ),
    record('historic_age_h', at(HISTORIC_AGE_LOW), historicBytes.subarray(0, 2), 'duration', 'h', ageHours),
    record(
      'frame_status',
      payloadOffset + FRAME_STATUS_OFFSET,
      payload.subarray(FRAME_STATUS_OFFSET, FRAME_STATUS_OFFSET + 1),
      'manufacturer_specific',
      '',
      payload[FRAME_STATUS_OFFSET],
    ),
    record(
      'current_status',
      at(CURRENT_STATUS),
      plain.subarray(CURRENT_STATUS, CURRENT_STATUS + 1),
      'manufacturer_specific',
      '',
      plain[CURRENT_STATUS],
    ),
    record(
      'historic_status',
      at(HISTORIC_STATUS),
      plain.subarray(HISTORIC_STATUS, HISTORIC_STATUS + 1),
      'manufacturer_specific',
      '',
      plain[HISTORIC_STATUS],
    ),
  ];
  return { ok: true, records };
}

function mapApatorna1(header: TelegramHeader, records: readonly DataRecord[]): DriverMapping {
  const fields = headerFields(header, apatorna1Driver.name);
  const recordFieldNames: Array<string | undefined> = records.map(() => undefined);
  const byKey = new Map(records.map((r, index) => [r.key, { record: r, index }]));

  for (const name of VALUE_FIELDS) {
    const found = byKey.get(name);
    if (!found) continue;
    const value = found.record.value;
    fields[name] = typeof value === 'number' ? jsonNumber(value) : value;
    if (typeof value === 'number') recordFieldNames[found.index] = name;
  }
  const statuses: Record<string, FieldValue> = {};
  for (const { key, bits, leftover } of STATUS_LOOKUPS) {
    const value = byKey.get(key)?.record.value;
    if (typeof value === 'number') statuses[key] = joinStatus(bitTokens(value, 0xff, bits, leftover));
  }
  return { fields: { ...fields, ...statuses }, recordFieldNames };
}

export const apatorna1Driver: MeterDriver = {
  name: 'apatorna1',
  detects: (header) => header.manufacturer === 'APA' && header.version === 0x14 && header.deviceType === 0x07,
  map: mapApatorna1,
  decryptManufacturerPayload: decodeApatorna1Payload,
};
