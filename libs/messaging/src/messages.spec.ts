import { MessageValidationError } from './errors';
import {
  decodeCommand,
  decodeDeadLetter,
  decodeEvent,
  decodeReadings,
  deadLetter,
  encodeCommand,
  encodeDeadLetter,
  encodeEvent,
  encodeReadings,
  ReadingsMessage,
} from './messages';

const readings: ReadingsMessage = {
  v: 1,
  meterId: '12345678',
  meterGroup: 'default',
  manufacturer: 'KAM',
  ts: Date.UTC(2026, 10, 24, 10),
  source: 'gateway',
  sourceId: 'gw-1',
  readings: [
    { quantity: 'volume', storage: 0, tariff: 0, unit: 'm3', value: 12.345 },
    { quantity: 'target_volume', storage: 1, tariff: 0, unit: 'm3', value: 12.001 },
  ],
};

describe('pipeline messages', () => {
  it('round-trips readings, events and commands', () => {
    expect(decodeReadings(encodeReadings(readings))).toEqual(readings);
    const event = {
      v: 1 as const,
      meterId: '1',
      meterGroup: 'g',
      ts: readings.ts,
      kind: 'leak',
      details: { hours: 3 },
    };
    expect(decodeEvent(encodeEvent(event))).toEqual(event);
    const command = {
      v: 1 as const,
      commandId: 'c1',
      kind: 'reload-keys',
      issuedAt: readings.ts,
      params: { meterIds: ['1'] },
    };
    expect(decodeCommand(encodeCommand(command))).toEqual(command);
  });

  it('keeps the original bytes of a dead letter intact', () => {
    const original = Buffer.from([0x00, 0xff, 0x10, 0x80, 0x7f]);
    const letter = deadLetter({
      reasonCode: 'BAD_CRC',
      message: 'block 2 CRC mismatch',
      field: 'telegram',
      source: { kind: 'mqtt', id: 'gw-9' },
      origin: { topic: 'hes.telegrams.raw', partition: 3, offset: '1234' },
      original,
      failedAt: readings.ts,
    });
    const decoded = decodeDeadLetter(encodeDeadLetter(letter));
    expect(Buffer.from(decoded.original, 'base64').equals(original)).toBe(true);
    expect(decoded.reasonCode).toBe('BAD_CRC');
  });

  it('reports the path of the first invalid field', () => {
    const bad = { ...readings, readings: [{ ...readings.readings[0], value: Number.POSITIVE_INFINITY }] };
    expect(() => encodeReadings(bad)).toThrow(MessageValidationError);
    try {
      decodeReadings(
        Buffer.from(JSON.stringify({ ...readings, readings: [{ ...readings.readings[0], storage: -1 }] })),
      );
    } catch (error) {
      expect((error as MessageValidationError).field).toBe('readings.0.storage');
    }
    expect(() => decodeReadings(Buffer.from(JSON.stringify({ ...readings, v: 2 })))).toThrow(/^v: /);
    expect(() => decodeEvent(Buffer.from('{not json'))).toThrow('message: not valid JSON');
    expect(() => decodeReadings(Buffer.from(JSON.stringify({ ...readings, ts: 1_700_000_000 })))).toThrow(
      /^ts: /,
    );
  });
});
