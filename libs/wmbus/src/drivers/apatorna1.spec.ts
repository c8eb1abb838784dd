import { decodeTelegram } from '../decode';
import { cbcEncrypt } from '../security/cbc';

/** An NA-1 telegram (M=APA, A=04913581, version 0x14, type 0x07, CI 0xA1) around a chosen plaintext block. */
function na1Telegram(key: Buffer, acc: number, frameStatus: number, plain: Buffer): Buffer {
  const head = Buffer.from('1C440106813591041407A1', 'hex');
  const iv = Buffer.concat([head.subarray(2, 10), Buffer.alloc(8, acc)]);
  return Buffer.concat([head, Buffer.from([acc, frameStatus]), cbcEncrypt(key, iv, plain)]);
}

function plainBlock(values: {
  packed: number;
  seconds: number;
  ageLow: number;
  meta: number;
  delta: [number, number, number];
  current: number;
  historic: number;
}): Buffer {
  const block = Buffer.alloc(16);
  block[0] = 0x2f;
  block.writeUInt32LE(values.packed, 1);
  block.writeUInt32LE(values.seconds, 5);
  block[9] = values.ageLow;
  block[10] = values.meta;
  block.set(values.delta, 11);
  block[14] = values.current;
  block[15] = values.historic;
  return block;
}

describe('apatorna1 driver', () => {
  const key = Buffer.from('000102030405060708090A0B0C0D0E0F', 'hex');

  it('applies the volume multiplier, the historic delta and age, and names several status bits', () => {
    const plain = plainBlock({
      // Digits 0x1234 and 5, multiplier index 2 (×100): (0x1234 × 16 + 5) × 100 / 1000 m3.
      packed: (0x1234 << 8) | (2 << 4) | 5,
      seconds: 0,
      ageLow: 10,
      // Age high bits 1 (→ 256 + 10 h), delta low bits 3.
      meta: (1 << 2) | 3,
      delta: [1, 0, 0],
      current: 0x09,
      historic: 0x81,
    });
    const result = decodeTelegram(na1Telegram(key, 0x42, 0x22, plain), { key });
    expect(result.error).toBeUndefined();
    expect(result.fields).toMatchObject({
      meter: 'apatorna1',
      total_m3: 7456.5,
      // Delta (1 << 2) + 3 = 7 units of 100 l.
      historic_m3: 7455.8,
      historic_age_h: 266,
      meter_datetime: '2000-01-01 00:00',
      historic_datetime: '1999-12-20 22:00',
      current_status: 'BATTERY_LOW LEAK',
      historic_status: 'BATTERY_LIFETIME_THRESHOLD_EXCEEDED MINIMUM_FLOW',
      frame_status: 'HISTORICAL_INDICATION INSTALL_FRAME',
    });
  });

  it('uses the largest delta byte and reports OK when no status bit is set', () => {
    const plain = plainBlock({
      packed: (100 << 8) | (0 << 4),
      seconds: 86_400 * 366 + 3_600 * 5 + 60 * 7,
      ageLow: 1,
      meta: 0,
      delta: [0, 0, 1],
      current: 0,
      historic: 0,
    });
    const result = decodeTelegram(na1Telegram(key, 0x07, 0x00, plain), { key });
    expect(result.fields).toMatchObject({
      total_m3: 1.6,
      // b2 << 18 litres.
      historic_m3: 1.6 - 262.144,
      meter_datetime: '2001-01-01 05:07',
      historic_datetime: '2001-01-01 04:07',
      current_status: 'OK',
      historic_status: 'OK',
      frame_status: 'OK',
    });
  });

  it('rejects a block that does not decrypt to the 0x2F marker', () => {
    const plain = plainBlock({
      packed: 0,
      seconds: 0,
      ageLow: 0,
      meta: 0,
      delta: [0, 0, 0],
      current: 0,
      historic: 0,
    });
    plain[0] = 0x2e;
    const result = decodeTelegram(na1Telegram(key, 0x01, 0x00, plain), { key });
    expect(result.error?.code).toBe('DECRYPTION_FAILED');
    expect(result.records).toEqual([]);
  });
});
