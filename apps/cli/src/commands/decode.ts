import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import {
  CompactFormatStore,
  DecodeOptions,
  Vw1871Item,
  Vw1871StreamParser,
  decodeTelegram,
  parseHex,
  toHex,
} from '@hes/wmbus';
import { CliIo, UsageError, writeLine } from '../cli-io';
import { FormatFile } from '../format-file';
import { HexStreamDecoder } from '../hex-stream';
import { readKeyFile } from '../key-file';
import { badInputJson, telegramJson } from '../telegram-json';

interface DecodeCommandOptions {
  keys?: string;
  formats?: string;
  vw1871?: boolean;
}

export function registerDecodeCommand(program: Command, io: CliIo): void {
  program
    .command('decode')
    .description(
      'decode wM-Bus telegrams (hex, one per line, from the arguments or stdin) into one JSON object per line',
    )
    .argument(
      '[input...]',
      'hex telegrams; with --vw1871 one file holding the reader stream as hex (default: stdin)',
    )
    .option('--keys <file>', 'CSV "meter_id,key_hex" with the AES-128 key of each encrypted meter')
    .option(
      '--formats <file>',
      'compact-frame formats JSON: loaded at start, written back when new formats were learned (created if missing)',
    )
    .option('--vw1871', 'input is the byte stream of a Kamstrup VW1871/VW1811 handheld reader, as hex')
    .action(async (inputs: string[], options: DecodeCommandOptions) => {
      await runDecode(inputs, options, io);
    });
}

async function runDecode(inputs: string[], options: DecodeCommandOptions, io: CliIo): Promise<void> {
  const keys = options.keys !== undefined ? readKeyFile(options.keys) : new Map<string, Buffer>();
  const formatFile = options.formats !== undefined ? FormatFile.load(options.formats) : undefined;
  const decodeOptions: DecodeOptions = {
    key: (meterId) => keys.get(meterId.toUpperCase()),
    // Without a file, formats learned from full frames still serve later compact frames of this run.
    formats: formatFile?.store ?? CompactFormatStore.withKnownFormats(),
  };
  try {
    if (options.vw1871) {
      if (inputs.length > 1) throw new UsageError('decode --vw1871 takes at most one input file');
      await decodeReaderStream(inputs[0], decodeOptions, io);
    } else {
      await decodeTelegramLines(inputs, decodeOptions, io);
    }
  } finally {
    // Formats learned before an input error are still worth keeping.
    if (formatFile?.save() && formatFile.learnedCount > 0) {
      io.stderr.write(
        `hes: learned ${formatFile.learnedCount} compact format(s), saved to ${formatFile.path}\n`,
      );
    }
  }
}

async function decodeTelegramLines(inputs: string[], decodeOptions: DecodeOptions, io: CliIo): Promise<void> {
  const lines: AsyncIterable<string> | string[] =
    inputs.length > 0 ? inputs : createInterface({ input: io.stdin, crlfDelay: Infinity });
  let lineNumber = 0;
  for await (const raw of lines) {
    lineNumber++;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const telegram = parseHex(line);
    const receivedAt = io.now();
    const json =
      telegram === undefined
        ? badInputJson(line, `${inputs.length > 0 ? 'argument' : 'line'} ${lineNumber}: not a hex telegram`)
        : telegramJson(decodeTelegram(telegram, decodeOptions), toHex(telegram), receivedAt);
    await writeLine(io.stdout, JSON.stringify(json));
  }
}

async function openInput(path: string | undefined, io: CliIo): Promise<Readable> {
  if (path === undefined || path === '-') return io.stdin;
  try {
    const handle = await open(path, 'r');
    return handle.createReadStream();
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

async function decodeReaderStream(
  path: string | undefined,
  decodeOptions: DecodeOptions,
  io: CliIo,
): Promise<void> {
  const input = await openInput(path, io);
  input.setEncoding('utf8');
  const hex = new HexStreamDecoder();
  const parser = new Vw1871StreamParser();
  try {
    for await (const text of input as AsyncIterable<string>) {
      for (const item of parser.push(hex.push(text))) await writeReaderItem(item, decodeOptions, io);
    }
  } finally {
    if (input !== io.stdin) input.destroy();
  }
  hex.end();
  for (const item of parser.end()) await writeReaderItem(item, decodeOptions, io);
}

/**
 * The reader's own clock is never set, so it is passed on as metadata only; the reading is stamped
 * with the time this process received the frame.
 */
async function writeReaderItem(item: Vw1871Item, decodeOptions: DecodeOptions, io: CliIo): Promise<void> {
  const receivedAt = io.now();
  let json: Record<string, unknown>;
  switch (item.kind) {
    case 'telegram': {
      // Decode the telegram with its format-B CRCs: a stripped short telegram is taken for format B
      // whenever its last two bytes happen to match a CRC (1 in 65,536), which would cut them off.
      const result = decodeTelegram(item.telegram, decodeOptions);
      json = {
        ...telegramJson(result, toHex(item.telegram), receivedAt),
        ...(result.ok && { rssi_dbm: item.rssiDbm }),
        reader: {
          signal: item.signal,
          rssiDbm: item.rssiDbm,
          readerClock: item.readerClock,
          receivedAt: receivedAt.toISOString(),
          offset: item.offset,
        },
      };
      break;
    }
    case 'battery':
      json = {
        _: 'battery',
        millivolts: item.millivolts,
        receivedAt: receivedAt.toISOString(),
        offset: item.offset,
      };
      break;
    case 'skipped':
      json = { _: 'skipped', bytes: item.bytes, reason: item.reason, offset: item.offset };
      break;
  }
  await writeLine(io.stdout, JSON.stringify(json));
}
