import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { crc16En13757 } from '@hes/wmbus';
import { runCli } from './cli';

interface Vector {
  name: string;
  key: string | null;
  telegram: string;
  origin: string;
  driver: string;
  expected: Record<string, unknown>;
}

const vectors: Vector[] = readFileSync(
  resolve(__dirname, '../../..', '../shared/wmbus/vectors.jsonl'),
  'utf8',
)
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line));
const supplementary = vectors.filter((v) => v.driver === 'kamwater' && v.origin.startsWith('supplementary'));
/** Real AES-CTR Kamstrup full frame and compact frame of meter 76348799 (wmbusmeters serial_aes.msg / test_analyze.sh). */
const ENCRYPTED_FULL = supplementary.find((v) => v.key !== null && v.name === 'Vatten')!;
const ENCRYPTED_COMPACT = supplementary.find((v) => v.key !== null && v.telegram.startsWith('23'))!;
const KEY = ENCRYPTED_FULL.key!;
const NOW = new Date('2026-03-01T08:15:30.250Z');

/** Plain Kamstrup full frame of meter 12345678 (no key: it sends plaintext) (CI 0x78) with a DIF/VIF string no builtin compact format has: 0413 023B. */
const PLAIN_FULL = '14442D2C785634121B1678041308190000023B1000';
/** Its compact form (CI 0x79, signature 0xC944, full-frame CRC 0xA073). */
const PLAIN_COMPACT = '14442D2C785634121B167944C973A0081900001000';

/** Fields wmbusmeters prints that depend on its configuration or receiver rather than the telegram. */
function comparable(expected: Record<string, unknown>): Record<string, unknown> {
  const { timestamp: _t, name: _n, device: _d, rssi_dbm: _r, ...rest } = expected;
  return rest;
}

async function run(args: string[], stdin = '') {
  const io = {
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    now: () => NOW,
  };
  io.stdin.end(stdin);
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
  io.stdout.on('data', (chunk: Buffer) => chunks.out.push(chunk));
  io.stderr.on('data', (chunk: Buffer) => chunks.err.push(chunk));
  const code = await runCli(args, io);
  const stdout = Buffer.concat(chunks.out).toString('utf8');
  return {
    code,
    stdout,
    get lines() {
      return stdout
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    },
    stderr: Buffer.concat(chunks.err).toString('utf8'),
  };
}

function readerFrame(plainTelegram: Buffer, clock: number, signal: number): Buffer {
  const telegram = Buffer.concat([plainTelegram, Buffer.alloc(2)]);
  telegram[0] = telegram.length - 1;
  telegram.writeUInt16BE(crc16En13757(telegram, 0, telegram.length - 2), telegram.length - 2);
  const head = Buffer.from([0xfb, 0xfb, 0xfb, 0xf0, 0x11, 0x01, 0x25, 0x08, 0, 0, 0, 0, 0x61, signal, 0x01]);
  head.writeUInt32LE(clock, 8);
  const body = Buffer.concat([head, telegram]);
  const crc = Buffer.alloc(2);
  crc.writeUInt16BE(crc16En13757(body));
  return Buffer.concat([body, crc, Buffer.from([0xfe, 0xfe, 0x0e, 0x0f])]);
}

describe('hes decode', () => {
  let dir: string;
  let keysFile: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hes-cli-'));
    keysFile = join(dir, 'keys.csv');
    writeFileSync(keysFile, `meter_id,key_hex\n${ENCRYPTED_FULL.expected.id},${KEY}\n`);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('decrypts and decodes real Kamstrup full and compact frames with a key file, matching wmbusmeters', async () => {
    const result = await run([
      'decode',
      '--keys',
      keysFile,
      ENCRYPTED_FULL.telegram,
      ENCRYPTED_COMPACT.telegram,
    ]);
    expect(result.code).toBe(0);
    expect(result.lines).toHaveLength(2);
    expect(result.lines[0]).toMatchObject(comparable(ENCRYPTED_FULL.expected));
    expect(result.lines[1]).toMatchObject(comparable(ENCRYPTED_COMPACT.expected));
    expect(result.lines[1]).toMatchObject({
      timestamp: '2026-03-01T08:15:30Z',
      driver: 'kamwater',
      security: 'ell-aes-ctr',
      header: { manufacturer: 'KAM', id: '76348799', deviceType: 0x16 },
      telegram: ENCRYPTED_COMPACT.telegram,
    });
    expect(result.lines[1].records).toEqual(
      expect.arrayContaining([expect.objectContaining({ key: '0413', quantity: 'volume', value: 6.409 })]),
    );
    expect(result.stderr).toBe('');
  });

  it('reads stdin line by line and reports bad lines as error objects without stopping', async () => {
    const stdin = `# walk-by session 7\n${ENCRYPTED_FULL.telegram}\nnot-hex\n\n2A44\n${ENCRYPTED_COMPACT.telegram}\n`;
    const result = await run(['decode'], stdin);
    expect(result.code).toBe(0);
    expect(result.lines).toEqual([
      {
        error: { code: 'NO_KEY', message: expect.stringContaining('76348799') },
        telegram: ENCRYPTED_FULL.telegram,
        header: expect.objectContaining({ id: '76348799' }),
      },
      { error: { code: 'BAD_INPUT', message: 'line 3: not a hex telegram' }, telegram: 'not-hex' },
      { error: expect.objectContaining({ code: 'TOO_SHORT' }), telegram: '2A44' },
      expect.objectContaining({ error: expect.objectContaining({ code: 'NO_KEY' }) }),
    ]);
  });

  it('learns a compact format from a full frame, persists it, and decodes the compact frame in a later run', async () => {
    const formats = join(dir, 'formats.json');
    const before = await run(['decode', PLAIN_COMPACT]);
    expect(before.lines[0]).toMatchObject({ error: { code: 'UNKNOWN_COMPACT_FORMAT' } });

    const learning = await run(['decode', '--formats', formats, PLAIN_FULL]);
    expect(learning.lines[0]).toMatchObject({ total_m3: 6.408, flow_m3h: 0.016 });
    expect(learning.stderr).toContain(`learned 1 compact format(s), saved to ${formats}`);
    const saved = JSON.parse(readFileSync(formats, 'utf8'));
    expect(saved.formats).toContainEqual(
      expect.objectContaining({
        manufacturer: 'KAM',
        deviceType: 0x16,
        signature: 0xc944,
        format: '0413023B',
        source: 'learned',
      }),
    );

    const later = await run(['decode', '--formats', formats, PLAIN_COMPACT]);
    expect(later.lines[0]).toMatchObject({ id: '12345678', total_m3: 6.408, flow_m3h: 0.016 });
    expect(later.stderr).toBe('');
  });

  it('creates a missing formats file even when nothing was learned', async () => {
    const formats = join(dir, 'new.json');
    await run(['decode', '--formats', formats, ENCRYPTED_COMPACT.telegram]);
    expect(JSON.parse(readFileSync(formats, 'utf8')).formats.length).toBeGreaterThan(0);
  });

  it('decodes a VW1871 reader stream from a hex file, with reader metadata, battery and skipped bytes', async () => {
    const plain = Buffer.from(ENCRYPTED_COMPACT.telegram, 'hex');
    const battery = Buffer.concat([
      Buffer.from('\r\nBattery Volt = 3858 mV\r\n', 'latin1'),
      Buffer.from([0xfb, 0xfc, 0xfc, 0xf0, 0x12, 0x0f, 0xfe, 0xfe, 0x0e, 0x0f]),
    ]);
    const frame = readerFrame(plain, 1234567, 0xb4);
    const stream = Buffer.concat([
      battery,
      frame,
      Buffer.from([0x00, 0x01]),
      readerFrame(Buffer.from(PLAIN_FULL, 'hex'), 1234570, 0xa2),
    ]);
    // 244-byte BLE notifications, one per line, as an app log would show them.
    const hexLines = stream
      .toString('hex')
      .match(/.{1,488}/g)!
      .join('\n');
    const file = join(dir, 'session.hex');
    writeFileSync(file, hexLines);

    const result = await run(['decode', '--vw1871', '--keys', keysFile, file]);
    expect(result.code).toBe(0);
    expect(result.lines).toEqual([
      { _: 'skipped', bytes: battery.length - 10, reason: 'text', offset: 0 },
      { _: 'battery', millivolts: 3858, receivedAt: NOW.toISOString(), offset: battery.length - 10 },
      expect.objectContaining({
        ...comparable(ENCRYPTED_COMPACT.expected),
        rssi_dbm: -76,
        frameFormat: 'B',
        reader: {
          signal: 0xb4,
          rssiDbm: -76,
          readerClock: 1234567,
          receivedAt: NOW.toISOString(),
          offset: battery.length,
        },
      }),
      { _: 'skipped', bytes: 2, reason: 'garbage', offset: battery.length + frame.length },
      expect.objectContaining({
        total_m3: 6.408,
        rssi_dbm: -94,
        reader: expect.objectContaining({ readerClock: 1234570 }),
      }),
    ]);
  });

  it('reads the reader stream from stdin', async () => {
    const frame = readerFrame(Buffer.from(PLAIN_FULL, 'hex'), 5, 0xa2).toString('hex');
    const result = await run(['decode', '--vw1871'], frame.replace(/(..)/g, '$1 '));
    expect(result.lines).toEqual([
      expect.objectContaining({ total_m3: 6.408, reader: expect.objectContaining({ readerClock: 5 }) }),
    ]);
  });

  it.each([
    [['decode', '--bogus'], /unknown option '--bogus'/],
    [
      ['decode', '--keys', '/nonexistent/keys.csv', '00'],
      /hes: cannot read keys file \/nonexistent\/keys.csv: ENOENT/,
    ],
    [
      ['decode', '--vw1871', '/nonexistent/session.hex'],
      /hes: cannot read \/nonexistent\/session.hex: ENOENT/,
    ],
    [['decode', '--vw1871', 'a.hex', 'b.hex'], /at most one input file/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ])('exits with 2 on the usage error %j', async (args, message) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('exits with 2 on a malformed key file, naming the line and not the key', async () => {
    writeFileSync(keysFile, `76348799,${KEY}\n12345678,${KEY.slice(0, 31)}\n`);
    const result = await run(['decode', '--keys', keysFile, ENCRYPTED_FULL.telegram]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `keys file ${keysFile} line 2: key for meter 12345678 is not 32 hex digits`,
    );
    expect(result.stderr).not.toContain(KEY.slice(0, 31));
    expect(result.lines).toEqual([]);
  });

  it('exits with 2 when the reader stream is not hex, after printing the frames before the bad character', async () => {
    const frame = readerFrame(Buffer.from(PLAIN_FULL, 'hex'), 5, 0xa2).toString('hex');
    const result = await run(['decode', '--vw1871'], `${frame}\nxyz`);
    expect(result.code).toBe(2);
    expect(result.lines).toEqual([expect.objectContaining({ total_m3: 6.408 })]);
    expect(result.stderr).toMatch(/input is not hex: "x" at character/);
  });

  it('lists every subcommand in the top-level help', async () => {
    const result = await run(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/decode \[options\] \[input\.\.\.\][\s\S]*migrate[\s\S]*gateways/);
  });

  it('prints help for --help with exit code 0', async () => {
    const result = await run(['decode', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: hes decode [options] [input...]');
    expect(result.stdout).toContain('--vw1871');
  });
});
