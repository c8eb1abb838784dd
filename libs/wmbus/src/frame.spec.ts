import { crc16En13757 } from './crc';
import { addFrameCrcs, stripFrame } from './frame';
import { parseHex } from './hex';

const KAMSTRUP = parseHex(
  '2A442D2C998734761B168D2091D37CAC21E1D68CDAFFCD3DC452BD802913FF7B1706CA9E355D6C2701CC24',
)!;
/** Spec §4.2 / tests/test_frame_b_trim.sh: a 195-byte C1 frame with both format-B CRCs still present. */
const SENSOSTAR_B = parseHex(
  'C244C5140443054300048C200E900F002C25895E02003B0877D31DA840B17A0E009007100F8FAD4C4E61400DA4F3B1F7E273CC4C5C07F93CD20B237345DB39F9A98F8415E1C4B7A25C86E4C22D05C3352FA7E2E5627031F14643063F1DC8FE2C32459B6F02E4234B447B18E4BFDA8C4DA9B1EDE6CF29D0B2122A3E8B9DEEBEE3E6DBE6617B4E709EC6B595179CB01C2C0BDE6723A345B708652880C114A58DA07C73AD9EB8ACB17FA0A88F19BC84CB1FC56672DE8A9603FD0C05010002FD0B2111F60B',
)!;

describe('frame format A', () => {
  it('matches the spec §1.2 first-block CRC 811D', () => {
    expect(crc16En13757(parseHex('3444EE4D813929271608')!)).toBe(0x811d);
  });

  it('strips the CRCs of a format A frame and reports format A; L keeps counting data bytes only', () => {
    const framed = addFrameCrcs(KAMSTRUP, 'A');
    // 43 data bytes: block 1 (10) + 16 + 16 + 1 → 4 CRCs.
    expect(framed.length).toBe(KAMSTRUP.length + 8);
    const result = stripFrame(framed);
    expect(result).toEqual({ ok: true, frame: { format: 'A', bytes: KAMSTRUP } });
  });

  it('reports BAD_CRC when all CRCs are present and exactly one data byte is corrupt', () => {
    const framed = addFrameCrcs(KAMSTRUP, 'A');
    framed[20] ^= 0x01;
    const result = stripFrame(framed);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe('BAD_CRC');
      expect(result.error.message).toContain('format A: 1 of 4');
    }
  });

  it('reports BAD_CRC when a CRC byte itself is corrupt', () => {
    const framed = addFrameCrcs(KAMSTRUP, 'A');
    framed[framed.length - 1] ^= 0xff;
    expect(stripFrame(framed)).toMatchObject({ ok: false, error: { code: 'BAD_CRC' } });
  });
});

describe('frame format B', () => {
  it('strips both CRCs of the 195-byte sensostar frame and rewrites L to 0xBE', () => {
    const result = stripFrame(SENSOSTAR_B);
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.frame.format).toBe('B');
      expect(result.frame.bytes.length).toBe(191);
      expect(result.frame.bytes[0]).toBe(0xbe);
      expect(result.frame.bytes.subarray(126, 130)).toEqual(SENSOSTAR_B.subarray(128, 132));
    }
  });

  it('reports BAD_CRC for a long format B frame with one corrupt block', () => {
    const corrupt = Buffer.from(SENSOSTAR_B);
    corrupt[150] ^= 0x10;
    expect(stripFrame(corrupt)).toMatchObject({ ok: false, error: { code: 'BAD_CRC' } });
  });

  it('round-trips short and long frames through addFrameCrcs', () => {
    const shortB = addFrameCrcs(KAMSTRUP, 'B');
    expect(shortB.length).toBe(KAMSTRUP.length + 2);
    expect(stripFrame(shortB)).toEqual({ ok: true, frame: { format: 'B', bytes: KAMSTRUP } });
    const stripped = stripFrame(SENSOSTAR_B);
    if (!stripped.ok) throw new Error('sensostar must strip');
    expect(addFrameCrcs(stripped.frame.bytes, 'B')).toEqual(SENSOSTAR_B);
  });
});

describe('already stripped input', () => {
  it('takes a frame without CRCs as it is', () => {
    expect(stripFrame(KAMSTRUP)).toEqual({ ok: true, frame: { format: 'none', bytes: KAMSTRUP } });
  });

  it('takes a short format-B-looking frame with its single CRC wrong as stripped (no evidence of CRCs)', () => {
    const shortB = addFrameCrcs(KAMSTRUP, 'B');
    shortB[15] ^= 0x01;
    const result = stripFrame(shortB);
    expect(result).toMatchObject({ ok: true, frame: { format: 'none' } });
  });

  it('rejects input shorter than a DLL header', () => {
    expect(stripFrame(Buffer.from('0A44', 'hex'))).toMatchObject({ ok: false, error: { code: 'TOO_SHORT' } });
  });
});
