import { crc16En13757 } from '../crc';
import { VW1871_MAX_FRAME_LENGTH, Vw1871Item, Vw1871StreamParser, formatBCrcsValid } from './vw1871-stream';

/** Plain (CRC-stripped) telegrams from the wmbusmeters kamwater tests (spec §7.2). */
const KAMSTRUP_FULL = Buffer.from(
  '2A442D2C998734761B168D2091D37CAC21E1D68CDAFFCD3DC452BD802913FF7B1706CA9E355D6C2701CC24',
  'hex',
);
const KAMSTRUP_COMPACT = Buffer.from(
  '23442D2C998734761B168D20983081B2227A6FA1F10E1B79B5EB4B17E81F930E937EE06C',
  'hex',
);
/** 195-byte C1 telegram that still carries its two format-B CRCs (wmbusmeters tests/test_frame_b_trim.sh). */
const SENSOSTAR_FORMAT_B = Buffer.from(
  'C244C5140443054300048C200E900F002C25895E02003B0877D31DA840B17A0E009007100F8FAD4C4E61400DA4F3B1F7E273CC4C5C07' +
    'F93CD20B237345DB39F9A98F8415E1C4B7A25C86E4C22D05C3352FA7E2E5627031F14643063F1DC8FE2C32459B6F02E4234B447B18E4' +
    'BFDA8C4DA9B1EDE6CF29D0B2122A3E8B9DEEBEE3E6DBE6617B4E709EC6B595179CB01C2C0BDE6723A345B708652880C114A58DA07C73' +
    'AD9EB8ACB17FA0A88F19BC84CB1FC56672DE8A9603FD0C05010002FD0B2111F60B',
  'hex',
);

/** Short format-B framing (≤ 128 bytes): one CRC at the end, high byte first; L counts the CRC. */
function shortFormatB(stripped: Buffer): Buffer {
  const out = Buffer.concat([stripped, Buffer.alloc(2)]);
  out[0] = out.length - 1;
  out.writeUInt16BE(crc16En13757(out, 0, out.length - 2), out.length - 2);
  return out;
}

function readerFrame(telegram: Buffer, clock: number, signal: number): Buffer {
  const head = Buffer.from([0xfb, 0xfb, 0xfb, 0xf0, 0x11, 0x01, 0x25, 0x08, 0, 0, 0, 0, 0x61, signal, 0x01]);
  head.writeUInt32LE(clock, 8);
  const body = Buffer.concat([head, telegram]);
  const crc = Buffer.alloc(2);
  crc.writeUInt16BE(crc16En13757(body));
  return Buffer.concat([body, crc, Buffer.from([0xfe, 0xfe, 0x0e, 0x0f])]);
}

function batteryReport(millivolts: number): Buffer {
  const frame = Buffer.from([0xfb, 0xfc, 0xfc, 0xf0, 0, 0, 0xfe, 0xfe, 0x0e, 0x0f]);
  frame.writeUInt16LE(millivolts, 4);
  return Buffer.concat([Buffer.from(`\r\nBattery Volt = ${millivolts} mV\r\n`, 'latin1'), frame]);
}

function parseInChunks(stream: Buffer, cuts: number[]): Vw1871Item[] {
  const parser = new Vw1871StreamParser();
  const items: Vw1871Item[] = [];
  let start = 0;
  for (const cut of [...cuts, stream.length]) {
    items.push(...parser.push(stream.subarray(start, cut)));
    start = cut;
  }
  items.push(...parser.end());
  return items;
}

describe('formatBCrcsValid', () => {
  it('accepts a real 195-byte format-B telegram with CRCs at 126-127 and at its end', () => {
    expect(formatBCrcsValid(SENSOSTAR_FORMAT_B)).toBe(true);
  });

  it('rejects it when a byte of the third block is corrupted', () => {
    const corrupt = Buffer.from(SENSOSTAR_FORMAT_B);
    corrupt[150] ^= 0x01;
    expect(formatBCrcsValid(corrupt)).toBe(false);
  });
});

describe('Vw1871StreamParser', () => {
  const frame1 = readerFrame(shortFormatB(KAMSTRUP_FULL), 0x00012345, 0xb2);
  const frame2 = readerFrame(shortFormatB(KAMSTRUP_COMPACT), 0x00012350, 0xa0);
  const longFrame = readerFrame(SENSOSTAR_FORMAT_B, 0xfffffffe, 0xbf);
  const corrupted = Buffer.from(readerFrame(shortFormatB(KAMSTRUP_COMPACT), 7, 0xa5));
  corrupted[30] ^= 0x40;
  const garbage = Buffer.from([0x00, 0xfb, 0xfb, 0x13, 0xfb, 0xfb, 0xfb, 0x00, 0x42]);
  const battery = batteryReport(3858);
  const textLength = battery.length - 10;

  // text+battery | frame1 | garbage | corrupted | frame2 | long | frame cut short by the next frame | frame1
  const cutShort = readerFrame(shortFormatB(KAMSTRUP_FULL), 9, 0xb0).subarray(0, 40);
  const stream = Buffer.concat([battery, frame1, garbage, corrupted, frame2, longFrame, cutShort, frame1]);
  const offsets: number[] = [];
  [battery, frame1, garbage, corrupted, frame2, longFrame, cutShort, frame1].reduce((at, part) => {
    offsets.push(at);
    return at + part.length;
  }, 0);

  const expected: Vw1871Item[] = [
    { kind: 'skipped', bytes: textLength, reason: 'text', offset: 0 },
    { kind: 'battery', millivolts: 3858, offset: textLength },
    {
      kind: 'telegram',
      telegram: shortFormatB(KAMSTRUP_FULL),
      stripped: KAMSTRUP_FULL,
      signal: 0xb2,
      rssiDbm: -78,
      readerClock: 0x00012345,
      offset: offsets[1],
    },
    { kind: 'skipped', bytes: garbage.length, reason: 'garbage', offset: offsets[2] },
    { kind: 'skipped', bytes: corrupted.length, reason: 'bad-frame', offset: offsets[3] },
    {
      kind: 'telegram',
      telegram: shortFormatB(KAMSTRUP_COMPACT),
      stripped: KAMSTRUP_COMPACT,
      signal: 0xa0,
      rssiDbm: -96,
      readerClock: 0x00012350,
      offset: offsets[4],
    },
    {
      kind: 'telegram',
      telegram: SENSOSTAR_FORMAT_B,
      stripped: Buffer.concat([SENSOSTAR_FORMAT_B.subarray(0, 126), SENSOSTAR_FORMAT_B.subarray(128, 193)]),
      signal: 0xbf,
      rssiDbm: -65,
      readerClock: 0xfffffffe,
      offset: offsets[5],
    },
    { kind: 'skipped', bytes: cutShort.length, reason: 'bad-frame', offset: offsets[6] },
    {
      kind: 'telegram',
      telegram: shortFormatB(KAMSTRUP_FULL),
      stripped: KAMSTRUP_FULL,
      signal: 0xb2,
      rssiDbm: -78,
      readerClock: 0x00012345,
      offset: offsets[7],
    },
  ];
  // The stripped long telegram has L rewritten to its new length - 1.
  (expected[6] as { stripped: Buffer }).stripped[0] = 190;

  it('finds every frame, battery report and skipped run of a realistic stream in one chunk', () => {
    expect(parseInChunks(stream, [])).toEqual(expected);
  });

  it('gives the same items for a split at every possible position', () => {
    for (let cut = 1; cut < stream.length; cut++) {
      expect({ cut, items: parseInChunks(stream, [cut]) }).toEqual({ cut, items: expected });
    }
  });

  it('gives the same items for 244-byte BLE notifications and for single bytes', () => {
    const every = (size: number) =>
      Array.from({ length: Math.ceil(stream.length / size) - 1 }, (_, i) => (i + 1) * size);
    expect(parseInChunks(stream, every(244))).toEqual(expected);
    expect(parseInChunks(stream, every(1))).toEqual(expected);
  });

  it('rejects a frame whose reader CRC is right but whose telegram CRC is wrong', () => {
    const badTelegram = shortFormatB(KAMSTRUP_COMPACT);
    badTelegram[badTelegram.length - 1] ^= 0xff;
    const frame = readerFrame(badTelegram, 1, 0xa1);
    expect(parseInChunks(Buffer.concat([frame, frame2]), [])).toEqual([
      { kind: 'skipped', bytes: frame.length, reason: 'bad-frame', offset: 0 },
      expect.objectContaining({ kind: 'telegram', offset: frame.length, readerClock: 0x00012350 }),
    ]);
  });

  it('reports a frame cut off by the end of the stream as truncated', () => {
    const items = parseInChunks(Buffer.concat([frame1, frame2.subarray(0, 50)]), [20]);
    expect(items).toEqual([
      expect.objectContaining({ kind: 'telegram', offset: 0 }),
      { kind: 'skipped', bytes: 50, reason: 'truncated', offset: frame1.length },
    ]);
  });

  it('rejects a battery report without its trailer', () => {
    const broken = Buffer.from([0xfb, 0xfc, 0xfc, 0xf0, 0x10, 0x0f, 0xfe, 0xfe, 0x0e, 0x00]);
    expect(parseInChunks(Buffer.concat([broken, frame1]), [])).toEqual([
      { kind: 'skipped', bytes: broken.length, reason: 'bad-frame', offset: 0 },
      expect.objectContaining({ kind: 'telegram', offset: broken.length }),
    ]);
  });

  it('keeps its buffer bounded on an endless stream of marker-laden garbage', () => {
    const parser = new Vw1871StreamParser();
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed >> 16;
    };
    let skipped = 0;
    let maxBuffered = 0;
    for (let n = 0; n < 2000; n++) {
      const chunk = Buffer.alloc(244);
      for (let i = 0; i < chunk.length; i++) chunk[i] = random() & 0xff;
      // Plant frame markers with a large L so that candidates keep asking for more bytes.
      chunk.set([0xfb, 0xfb, 0xfb, 0xf0], random() % 200);
      for (const item of parser.push(chunk)) if (item.kind === 'skipped') skipped += item.bytes;
      maxBuffered = Math.max(maxBuffered, parser.bufferedBytes);
    }
    for (const item of parser.end()) if (item.kind === 'skipped') skipped += item.bytes;
    expect(maxBuffered).toBeGreaterThan(100);
    expect(maxBuffered).toBeLessThan(VW1871_MAX_FRAME_LENGTH);
    expect(skipped).toBe(2000 * 244);
  });

  it('refuses data after end()', () => {
    const parser = new Vw1871StreamParser();
    parser.end();
    expect(() => parser.push(frame1)).toThrow(/after end/);
  });
});
