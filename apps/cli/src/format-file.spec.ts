import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FormatFile } from './format-file';

describe('FormatFile', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hes-formats-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('starts from the builtin formats when the file is missing, and creates it on save', () => {
    const path = join(dir, 'formats.json');
    const file = FormatFile.load(path);
    const builtin = file.store.size;
    expect(builtin).toBeGreaterThan(0);
    expect(file.save()).toBe(true);
    const json = JSON.parse(readFileSync(path, 'utf8'));
    expect(json.version).toBe(1);
    expect(json.formats).toHaveLength(builtin);
  });

  it('keeps what earlier runs learned and writes back only when something new was learned', () => {
    const path = join(dir, 'formats.json');
    const first = FormatFile.load(path);
    first.store.learn('KAM', 0x16, Buffer.from('0413023B', 'hex'));
    first.save();

    const second = FormatFile.load(path);
    expect(second.store.lookup('KAM', 0x16, 0xc944)).toEqual(Buffer.from('0413023B', 'hex'));
    writeFileSync(path, readFileSync(path, 'utf8') + '\n');
    const before = readFileSync(path, 'utf8');
    expect(second.save()).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe(before);

    second.store.learn('ABC', 0x07, Buffer.from('0C13', 'hex'));
    expect(second.learnedCount).toBe(1);
    expect(second.save()).toBe(true);
    expect(
      FormatFile.load(path).store.lookup('ABC', 0x07, second.store.entries().at(-1)!.signature),
    ).toBeDefined();
  });

  it('reports invalid JSON and invalid entries as usage errors naming the file', () => {
    const path = join(dir, 'formats.json');
    writeFileSync(path, '{"version":1,');
    expect(() => FormatFile.load(path)).toThrow(
      expect.objectContaining({
        name: 'UsageError',
        message: expect.stringContaining(`formats file ${path} is not valid JSON`),
      }),
    );
    writeFileSync(
      path,
      JSON.stringify({
        version: 1,
        formats: [{ manufacturer: 'KAM', deviceType: 22, signature: 1, format: '0413', source: 'learned' }],
      }),
    );
    expect(() => FormatFile.load(path)).toThrow(/formats file .*formats\[0\]/);
  });

  it('reports an unreadable path as a usage error', () => {
    expect(() => FormatFile.load(dir)).toThrow(/cannot read formats file .*: EISDIR/);
  });
});
