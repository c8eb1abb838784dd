/**
 * MeterKeyStore with the real storage layer: keys encrypted by MeterKeyCipher, stored by @hes/storage's
 * MeterKeyRepository in PostgreSQL, loaded, refreshed on LISTEN/NOTIFY, and a row moved between meters rejected.
 */
import { Pool } from 'pg';
import { createTestDatabase, TestDatabase } from '@hes/testing';
import { createPool, MeterKeyRepository, MeterRepository, runMigrations } from '@hes/storage';
import { MeterKeyCipher } from './cipher';
import { MeterKeyStore } from './store';

const cipher = new MeterKeyCipher(Buffer.alloc(32, 0x5c));
const keyA = Buffer.from('0102030405060708090A0B0C0D0E0F10', 'hex');
const keyB = Buffer.from('A1A2A3A4A5A6A7A8A9AAABACADAEAFB0', 'hex');

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('MeterKeyStore on PostgreSQL', () => {
  let db: TestDatabase;
  let pool: Pool;
  let repository: MeterKeyRepository;

  beforeAll(async () => {
    db = await createTestDatabase('hes_keys');
    pool = createPool(db.url);
    await runMigrations(pool, { dialect: 'postgres' });
    const meters = new MeterRepository(pool);
    for (const meterId of ['11111111', '22222222', '33333333']) {
      await meters.register({ meterId, manufacturer: 'KAM', deviceType: 0x16, version: 0x1b });
    }
    repository = new MeterKeyRepository(pool);
  });

  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('loads stored keys, follows rotations and deletions via notifications', async () => {
    await repository.store('11111111', cipher.encrypt('11111111', keyA));
    await repository.store('22222222', cipher.encrypt('22222222', keyB));
    const store = new MeterKeyStore(repository, cipher);
    expect(await store.load()).toEqual({ loaded: 2, failures: [] });
    expect(store.get('22222222')?.material().equals(keyB)).toBe(true);

    const stopListening = await repository.listen((meterId) => {
      void store.reload(meterId);
    });
    try {
      await repository.store('11111111', cipher.encrypt('11111111', keyB));
      await waitUntil(() => store.get('11111111')?.material().equals(keyB) === true);
      await repository.remove('22222222');
      await waitUntil(() => store.get('22222222') === undefined);
    } finally {
      await stopListening();
    }

    await repository.store('33333333', cipher.encrypt('33333333', keyA));
    expect((await store.refresh()).loaded).toBe(1);
    expect(store.get('33333333')?.material().equals(keyA)).toBe(true);
  });

  it('refuses a ciphertext copied from another meter row', async () => {
    const foreign = cipher.encrypt('11111111', keyA);
    await repository.store('33333333', foreign);
    const store = new MeterKeyStore(repository, cipher);
    const result = await store.load();
    expect(result.failures).toEqual([
      expect.objectContaining({
        meterId: '33333333',
        reason: expect.stringContaining('cannot be decrypted'),
      }),
    ]);
    expect(store.get('33333333')).toBeUndefined();
  });
});
