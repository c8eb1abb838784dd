import type { Principal } from '@hes/auth';
import { CompactFormatRepository } from '@hes/storage';
import { CompactFormatStore, decodeTelegram, telegramReadings, type DecodeResult } from '@hes/wmbus';
import type { Pool } from 'pg';
import { MeterKeyVault } from '../keys/meter-key-vault';
import type { DecryptResult, DecryptTelegramRequest } from './decrypt.dto';

const HEX = /^[0-9A-Fa-f]+$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The telegram bytes of a request item, or why they cannot be read. Hex may contain blanks and the underscore
 * wmbusmeters prints between a telegram's plaintext header and its encrypted part, so its logs paste as they are.
 */
function telegramBytes(item: DecryptTelegramRequest): Buffer | string {
  const text = item.telegram.replace(/\s+/g, '');
  const hex = text.replace(/_/g, '');
  const encoding = item.encoding ?? (HEX.test(hex) && hex.length % 2 === 0 ? 'hex' : 'base64');
  if (encoding === 'hex') {
    if (!HEX.test(hex) || hex.length % 2 !== 0) return 'telegram is not an even number of hex digits';
    return Buffer.from(hex, 'hex');
  }
  if (!BASE64.test(text) || text.length % 4 === 1) return 'telegram is neither hex nor base64';
  return Buffer.from(text, 'base64');
}

/** One item after the first, keyless decode: which meter ids the decoder saw and asked keys for. */
interface FirstPass {
  telegram: Buffer;
  result: DecodeResult;
  /** Addresses (DLL, ELL, TPL) the decoder asked a key for: the telegram is encrypted. */
  keyRequests: Set<string>;
}

/**
 * The decrypt service: decodes telegrams with the stored keys of the caller's meters and stores nothing.
 *
 * Each telegram is decoded once without keys, which tells which addresses it carries and whether it needs a
 * key; then the meters among those that are in the caller's societies are looked up in one query, their keys
 * decrypted, and the encrypted telegrams decoded again with those keys only. A telegram whose meter is not in
 * the caller's societies answers UNKNOWN_METER whatever it holds, so neither another tenant's keys nor the
 * existence of its meters are ever revealed. Compact frames decode with the built-in formats plus those the
 * decryptors learned (compact_formats); full frames in the same request teach their formats to later compact
 * frames of that request only.
 */
export class TelegramDecrypter {
  private readonly formats: CompactFormatRepository;

  constructor(
    pool: Pool,
    private readonly vault: MeterKeyVault,
  ) {
    this.formats = new CompactFormatRepository(pool);
  }

  async decrypt(principal: Principal, items: readonly DecryptTelegramRequest[]): Promise<DecryptResult[]> {
    const formats = await this.formatStore();
    const firstPass: Array<FirstPass | string> = items.map((item) => {
      const telegram = telegramBytes(item);
      if (typeof telegram === 'string') return telegram;
      const keyRequests = new Set<string>();
      const result = decodeTelegram(telegram, {
        formats,
        key: (meterId) => {
          keyRequests.add(meterId.toUpperCase());
          return undefined;
        },
      });
      return { telegram, result, keyRequests };
    });

    const seen = new Set<string>();
    for (const pass of firstPass) {
      if (typeof pass === 'string') continue;
      const identity = meterIdOf(pass);
      if (identity !== null) seen.add(identity);
      for (const meterId of pass.keyRequests) seen.add(meterId);
    }
    const meters = await this.vault.metersInTenant(principal, [...seen]);
    const wanted = new Set<string>();
    for (const pass of firstPass) {
      if (typeof pass === 'string' || pass.result.ok) continue;
      for (const meterId of pass.keyRequests) if (meters.has(meterId)) wanted.add(meterId);
    }
    const { keys, unreadable } = await this.vault.keysInTenant(principal, [...wanted]);
    try {
      return firstPass.map((pass, index) => {
        if (typeof pass === 'string') {
          return { index, ok: false, meterId: null, error: { code: 'BAD_INPUT', message: pass } };
        }
        const meterId = meterIdOf(pass);
        if (meterId === null) return failure(index, null, pass.result);
        if (!meters.has(meterId)) {
          return {
            index,
            ok: false,
            meterId,
            error: { code: 'UNKNOWN_METER', message: `meter ${meterId} is not one of your meters` },
          };
        }
        let result = pass.result;
        if (!result.ok && pass.keyRequests.size > 0) {
          result = decodeTelegram(pass.telegram, {
            formats,
            key: (id) => keys.get(id.toUpperCase()),
          });
          const unreadableKey = [...pass.keyRequests].find((id) => unreadable.has(id));
          if (result.error?.code === 'NO_KEY' && unreadableKey !== undefined) {
            return {
              index,
              ok: false,
              meterId,
              error: {
                code: 'KEY_UNREADABLE',
                message: `the stored key of meter ${unreadableKey} cannot be decrypted (master key changed or record altered)`,
              },
            };
          }
        }
        return result.ok ? success(index, meterId, result) : failure(index, meterId, result);
      });
    } finally {
      for (const key of keys.values()) key.fill(0);
    }
  }

  private async formatStore(): Promise<CompactFormatStore> {
    const store = CompactFormatStore.withKnownFormats();
    for (const row of await this.formats.loadAll()) {
      const entry = {
        manufacturer: row.manufacturer,
        deviceType: row.deviceType,
        signature: row.signature,
        format: row.format.toString('hex').toUpperCase(),
      };
      if (store.lookup(entry.manufacturer, entry.deviceType, entry.signature)) continue;
      store.add({ ...entry, source: 'learned', learnedAt: row.learnedAt.toISOString() });
    }
    return store;
  }
}

/**
 * The meter a telegram is from, upper-case as the registry stores ids: the identity the decoder settled on (TPL
 * long header over ELL over DLL address), or, when it stopped before that, the last address it asked a key for.
 */
function meterIdOf(pass: FirstPass): string | null {
  return (pass.result.header?.id ?? [...pass.keyRequests].at(-1))?.toUpperCase() ?? null;
}

function success(index: number, meterId: string, result: DecodeResult): DecryptResult {
  const readings = telegramReadings(result);
  if (!readings.ok || !result.header) return failure(index, meterId, result);
  return {
    index,
    ok: true,
    meterId,
    driver: readings.driver,
    manufacturer: readings.manufacturer,
    deviceType: readings.deviceType,
    version: readings.version,
    medium: result.header.medium,
    security: result.security,
    status: readings.status,
    meterError: readings.meterError,
    readings: readings.values,
    fields: result.fields,
    warnings: result.warnings,
  };
}

function failure(index: number, meterId: string | null, result: DecodeResult): DecryptResult {
  const readings = telegramReadings(result);
  const error = readings.ok
    ? { code: 'BAD_INPUT', message: 'decoder returned no result' }
    : { code: readings.code, message: readings.message };
  return { index, ok: false, meterId, error };
}
