import { Readable } from 'node:stream';
import { NdjsonSplitter, ndjsonGroups } from './ndjson';

describe('NdjsonSplitter', () => {
  const text = '{"telegram":"aa"}\n\n{"telegram":"bb"}\r\n  {"telegram":"cc"}';

  it('yields the same lines whatever the chunk boundaries', () => {
    const bytes = Buffer.from(text);
    for (let cut = 0; cut <= bytes.length; cut++) {
      for (let cut2 = cut; cut2 <= bytes.length; cut2 += 3) {
        const splitter = new NdjsonSplitter(1024);
        const lines = [
          ...splitter.push(bytes.subarray(0, cut)),
          ...splitter.push(bytes.subarray(cut, cut2)),
          ...splitter.push(bytes.subarray(cut2)),
          ...splitter.end(),
        ];
        expect(lines).toEqual([
          { kind: 'line', text: '{"telegram":"aa"}' },
          { kind: 'line', text: '{"telegram":"bb"}' },
          { kind: 'line', text: '{"telegram":"cc"}' },
        ]);
      }
    }
  });

  it('keeps multi-byte UTF-8 characters split across chunks intact', () => {
    const bytes = Buffer.from('{"gatewayId":"zähler-1"}\n');
    const splitter = new NdjsonSplitter(1024);
    const split = bytes.indexOf(0xc3) + 1;
    const lines = [...splitter.push(bytes.subarray(0, split)), ...splitter.push(bytes.subarray(split))];
    expect(lines).toEqual([{ kind: 'line', text: '{"gatewayId":"zähler-1"}' }]);
  });

  it('reports an oversized line without buffering it and resumes at the next line', () => {
    const splitter = new NdjsonSplitter(16);
    const entries = [
      ...splitter.push(Buffer.from('{"telegram":"' + 'ab'.repeat(20))),
      ...splitter.push(Buffer.from('ab'.repeat(1000))),
      ...splitter.push(Buffer.from('"}\n{"a":1}\n')),
    ];
    expect(entries).toEqual([
      { kind: 'oversized', bytes: 13 + 40 + 2000 + 2 },
      { kind: 'line', text: '{"a":1}' },
    ]);
    expect(splitter.end()).toEqual([]);
  });
});

describe('ndjsonGroups', () => {
  it('groups entries from a stream without exceeding the group size', async () => {
    const lines = Array.from({ length: 25 }, (_, i) =>
      JSON.stringify({ telegram: i.toString(16).padStart(2, '0') }),
    );
    const body = Buffer.from(lines.join('\n') + '\n');
    const chunks = [body.subarray(0, 7), body.subarray(7, 200), body.subarray(200)];
    const groups: number[] = [];
    const seen: string[] = [];
    for await (const group of ndjsonGroups(Readable.from(chunks), { maxLineBytes: 100, groupSize: 10 })) {
      groups.push(group.length);
      for (const entry of group) if (entry.kind === 'line') seen.push(entry.text);
    }
    expect(groups).toEqual([10, 10, 5]);
    expect(seen).toEqual(lines);
  });
});
