import { inspect } from 'node:util';
import { MeterKeyCipher } from './cipher';
import { EncryptedMeterKeyRecord, MeterKeySource, MeterKeyStore } from './store';

const cipher = new MeterKeyCipher(Buffer.alloc(32, 0x42));
const keyA = Buffer.from('000102030405060708090A0B0C0D0E0F', 'hex');
const keyB = Buffer.from('F0E0D0C0B0A090807060504030201000', 'hex');

function recordFor(meterId: string, key: Buffer, setAt: Date): EncryptedMeterKeyRecord {
  return { meterId, ...cipher.encrypt(meterId, key), setAt };
}

/** An in-memory MeterKeyRepository with the same since-inclusive semantics as the SQL one. */
class MemoryKeySource implements MeterKeySource {
  rows = new Map<string, EncryptedMeterKeyRecord>();
  queries: string[] = [];
  async loadAll() {
    this.queries.push('all');
    return [...this.rows.values()];
  }
  async load(meterId: string) {
    this.queries.push(`one ${meterId}`);
    return this.rows.get(meterId);
  }
  async loadChangedSince(since: Date) {
    this.queries.push(`since ${since.toISOString()}`);
    return [...this.rows.values()].filter((r) => r.setAt >= since);
  }
}

describe('MeterKeyStore', () => {
  it('loads all keys, then refreshes only changed ones', async () => {
    const source = new MemoryKeySource();
    source.rows.set('00000001', recordFor('00000001', keyA, new Date('2026-01-01T00:00:00Z')));
    source.rows.set('00000002', recordFor('00000002', keyB, new Date('2026-01-02T00:00:00Z')));
    const store = new MeterKeyStore(source, cipher);
    expect(await store.load()).toEqual({ loaded: 2, failures: [] });
    expect(store.get('00000001')?.material().equals(keyA)).toBe(true);

    source.rows.set('00000001', recordFor('00000001', keyB, new Date('2026-01-03T00:00:00Z')));
    source.rows.set('00000003', recordFor('00000003', keyA, new Date('2026-01-03T00:00:00Z')));
    expect(await store.refresh()).toEqual({ loaded: 2, failures: [] });
    expect(source.queries).toEqual(['all', 'since 2026-01-02T00:00:00.000Z']);
    expect(store.get('00000001')?.material().equals(keyB)).toBe(true);
    expect(store.get('00000003')?.material().equals(keyA)).toBe(true);
    expect(store.size).toBe(3);

    expect(await store.refresh()).toEqual({ loaded: 0, failures: [] });
  });

  it('reloads one meter on notification, including a deleted key', async () => {
    const source = new MemoryKeySource();
    source.rows.set('00000001', recordFor('00000001', keyA, new Date('2026-01-01T00:00:00Z')));
    const store = new MeterKeyStore(source, cipher);
    await store.load();
    const held = store.get('00000001')!;
    source.rows.set('00000001', recordFor('00000001', keyB, new Date('2026-01-02T00:00:00Z')));
    expect(await store.reload('00000001')).toEqual({ loaded: 1, failures: [] });
    expect(store.get('00000001')?.material().equals(keyB)).toBe(true);
    expect(held.material().equals(Buffer.alloc(16))).toBe(true);
    source.rows.delete('00000001');
    await store.reload('00000001');
    expect(store.get('00000001')).toBeUndefined();
    expect(store.size).toBe(0);
  });

  it('reports undecryptable records without dropping the previous good key', async () => {
    const source = new MemoryKeySource();
    source.rows.set('00000001', recordFor('00000001', keyA, new Date('2026-01-01T00:00:00Z')));
    const store = new MeterKeyStore(source, cipher);
    await store.load();
    const moved = recordFor('00000009', keyB, new Date('2026-01-05T00:00:00Z'));
    source.rows.set('00000001', { ...moved, meterId: '00000001' });
    const result = await store.refresh();
    expect(result.loaded).toBe(0);
    expect(result.failures).toEqual([
      expect.objectContaining({
        meterId: '00000001',
        reason: expect.stringContaining('cannot be decrypted'),
      }),
    ]);
    expect(store.get('00000001')?.material().equals(keyA)).toBe(true);
  });

  it('rejects a record whose fingerprint does not match its key', async () => {
    const source = new MemoryKeySource();
    const record = recordFor('00000001', keyA, new Date('2026-01-01T00:00:00Z'));
    source.rows.set('00000001', { ...record, fingerprint: cipher.fingerprint(keyB) });
    const store = new MeterKeyStore(source, cipher);
    const result = await store.load();
    expect(result.failures[0].reason).toMatch(/fingerprint .* does not match/);
    expect(store.get('00000001')).toBeUndefined();
  });

  it('keeps key bytes out of JSON, inspect and string conversion', async () => {
    const source = new MemoryKeySource();
    source.rows.set('00000001', recordFor('00000001', keyA, new Date('2026-01-01T00:00:00Z')));
    const store = new MeterKeyStore(source, cipher);
    await store.load();
    const key = store.get('00000001')!;
    const hex = keyA.toString('hex');
    const renderings = [
      JSON.stringify({ key }),
      inspect(key, { showHidden: true, depth: 5 }),
      inspect({ nested: { key } }),
      `${key}`,
    ];
    for (const text of renderings) {
      expect(text.toLowerCase()).not.toContain(hex);
      expect(text).toContain('00000001');
    }
    expect(JSON.parse(JSON.stringify(key))).toEqual({
      meterId: '00000001',
      fingerprint: cipher.fingerprint(keyA),
    });
  });

  it('polls the repository on a timer and reports errors without stopping', async () => {
    jest.useFakeTimers();
    try {
      const source = new MemoryKeySource();
      const store = new MeterKeyStore(source, cipher);
      const errors: unknown[] = [];
      let failNext = true;
      const original = source.loadAll.bind(source);
      source.loadAll = async () => {
        if (failNext) {
          failNext = false;
          throw new Error('db down');
        }
        return original();
      };
      source.rows.set('00000001', recordFor('00000001', keyA, new Date('2026-01-01T00:00:00Z')));
      store.startPolling(1000, (e) => errors.push(e));
      await jest.advanceTimersByTimeAsync(1000);
      expect(errors).toHaveLength(1);
      await jest.advanceTimersByTimeAsync(1000);
      expect(store.get('00000001')).toBeDefined();
      store.stopPolling();
    } finally {
      jest.useRealTimers();
    }
  });
});
