import { CompactFormatStore } from '@hes/wmbus';
import { INFO, kamstrupTelegram, meterKey } from '../../test/telegrams';
import { DecodeTask, TaskDecoder, packTask } from './decode-task';

const KEY = meterKey(1);
const builtins = CompactFormatStore.withKnownFormats().entries();

function task(items: Array<{ telegram: Buffer; key?: Buffer }>, version = 1, formats = builtins): DecodeTask {
  return packTask(
    items.map((i) => ({ telegram: i.telegram, key: i.key })),
    version,
    formats,
  );
}

describe('TaskDecoder', () => {
  it('decrypts each telegram with its own key and reports readings, status and failures per telegram', () => {
    const decoder = new TaskDecoder();
    const result = decoder.decode(
      task([
        { telegram: kamstrupTelegram({ meterId: '11111111', key: KEY, volumeM3: 6.408 }), key: KEY },
        { telegram: kamstrupTelegram({ meterId: '22222222', key: KEY, volumeM3: 1 }), key: meterKey(2) },
        { telegram: kamstrupTelegram({ meterId: '33333333', key: KEY, volumeM3: 1 }) },
        {
          telegram: kamstrupTelegram({
            meterId: '44444444',
            volumeM3: 2.5,
            infoCode: INFO.leak | INFO.burst,
          }),
        },
        { telegram: Buffer.from('0102', 'hex') },
      ]),
    );
    const [good, wrongKey, noKey, plain, garbage] = result.outcomes;
    expect(good).toMatchObject({
      ok: true,
      driver: 'kamwater',
      manufacturer: 'KAM',
      deviceType: 0x16,
      status: 'OK',
    });
    expect(good.ok && good.values).toEqual(
      expect.arrayContaining([{ quantity: 'total_m3', unit: 'm3', value: 6.408, storage: 0, tariff: 0 }]),
    );
    expect(wrongKey).toMatchObject({ ok: false, code: 'DECRYPTION_FAILED' });
    expect(noKey).toMatchObject({ ok: false, code: 'NO_KEY' });
    expect(plain).toMatchObject({ ok: true, status: 'BURST LEAK' });
    expect(garbage.ok).toBe(false);
    expect(result.learned).toEqual([]);
  });

  it('learns a compact format from a full frame, decodes later compact frames with it and reports it once', () => {
    const decoder = new TaskDecoder();
    const compact = kamstrupTelegram({
      meterId: '55555555',
      key: KEY,
      volumeM3: 3,
      compact: true,
      records: 'custom',
    });
    const full = kamstrupTelegram({ meterId: '55555555', key: KEY, volumeM3: 2, records: 'custom' });

    const before = decoder.decode(task([{ telegram: compact, key: KEY }]));
    expect(before.outcomes[0]).toMatchObject({ ok: false, code: 'UNKNOWN_COMPACT_FORMAT' });

    const learning = decoder.decode(
      task([
        { telegram: full, key: KEY },
        { telegram: compact, key: KEY },
      ]),
    );
    expect(learning.outcomes.map((o) => o.ok)).toEqual([true, true]);
    expect(learning.learned).toHaveLength(1);
    expect(learning.learned[0]).toMatchObject({
      manufacturer: 'KAM',
      deviceType: 0x16,
      format: '02FF2004134413615B',
    });

    // A fresh worker given the learned format in its list decodes the compact frame without the full one.
    const other = new TaskDecoder().decode(
      task([{ telegram: compact, key: KEY }], 2, [...builtins, ...learning.learned]),
    );
    expect(other.outcomes[0].ok).toBe(true);
    expect(other.learned).toEqual([]);
  });

  it('wipes the packed keys once the task is decoded', () => {
    const t = task([
      { telegram: kamstrupTelegram({ meterId: '11111111', key: KEY, volumeM3: 1 }), key: KEY },
    ]);
    new TaskDecoder().decode(t);
    expect(t.keys.every((b) => b === 0)).toBe(true);
  });
});
