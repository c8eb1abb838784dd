import { ServiceUnavailableException } from '@nestjs/common';
import { MeterKeyCipher } from '@hes/keys';
import type { Pool } from 'pg';
import { MeterKeyVault, parseMeterKeyHex } from './meter-key-vault';

/** A pool that must not be reached: the vault refuses before any query. */
const unreachablePool = {
  query: () => Promise.reject(new Error('the database must not be queried')),
  connect: () => Promise.reject(new Error('the database must not be queried')),
} as unknown as Pool;

describe('MeterKeyVault', () => {
  it('answers 503 for every key operation when no master key is configured, before touching the database', async () => {
    const vault = new MeterKeyVault(unreachablePool, undefined);
    const key = Buffer.alloc(16, 1);
    expect(() => vault.fingerprint(key)).toThrow(ServiceUnavailableException);
    await expect(vault.store('12345678', key)).rejects.toThrow(/HES_MASTER_KEY is not set/);
    await expect(
      vault.storeMany([{ meterId: '12345678', key }], () => ({ actor: 'cli', action: 'meter_key.import' })),
    ).rejects.toThrow(ServiceUnavailableException);
    const principal = {
      kind: 'user',
      id: 'u',
      source: 'password',
      role: 'platform_admin',
      societyIds: 'all',
      societyRoles: {},
      scopes: ['read'],
    } as const;
    await expect(vault.keysInTenant(principal, ['12345678'])).rejects.toThrow(ServiceUnavailableException);
    expect(await vault.keysInTenant(principal, [])).toEqual({ keys: new Map(), unreadable: new Set() });
  });

  it('fingerprints with the configured cipher', () => {
    const cipher = new MeterKeyCipher(Buffer.alloc(32, 9));
    const key = Buffer.alloc(16, 2);
    expect(new MeterKeyVault(unreachablePool, cipher).fingerprint(key)).toBe(cipher.fingerprint(key));
  });

  it('parses keys of exactly 32 hex digits, in any case and with surrounding blanks', () => {
    expect(parseMeterKeyHex(' 000102030405060708090a0b0c0d0e0F ')?.toString('hex')).toBe(
      '000102030405060708090a0b0c0d0e0f',
    );
    expect(parseMeterKeyHex('000102030405060708090a0b0c0d0e0')).toBeUndefined();
    expect(parseMeterKeyHex('000102030405060708090a0b0c0d0e0g')).toBeUndefined();
    expect(parseMeterKeyHex('')).toBeUndefined();
  });
});
