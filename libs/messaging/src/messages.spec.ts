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

  it('writes readings in the schema order, without keys the schema does not know', () => {
    // Keys outside the type, as a message built elsewhere could carry them.
    const withExtras = {
      ...readings,
      extra: 'dropped',
      readings: [
        { value: 1.5, unit: 'm³ "x"', tariff: 2, storage: 3, quantity: 'vol\nume', note: 'dropped' },
      ],
    } as unknown as ReadingsMessage;
    expect(encodeReadings(withExtras).toString('utf8')).toBe(
      '{"v":1,"meterId":"12345678","meterGroup":"default","manufacturer":"KAM","ts":1795514400000,' +
        '"source":"gateway","sourceId":"gw-1","readings":[{"quantity":"vol\\nume","storage":3,"tariff":2,' +
        '"unit":"m³ \\"x\\"","value":1.5}]}',
    );
    expect(JSON.parse(encodeReadings(readings).toString('utf8'))).toEqual(readings);
  });

  // Each variant breaks one rule of the schema: the encoder's plain checks must send it to the schema,
  // which names the same field as decoding the same JSON does.
  const reading0 = readings.readings[0];
  it.each<[string, Record<string, unknown>]>([
    ['v', { v: 2 }],
    ['meterId', { meterId: '' }],
    ['meterGroup', { meterGroup: 7 }],
    ['manufacturer', { manufacturer: undefined }],
    ['ts', { ts: 1_700_000_000 }],
    ['ts', { ts: Date.UTC(2100, 0, 1) + 1 }],
    ['ts', { ts: readings.ts + 0.5 }],
    ['source', { source: 'bluetooth' }],
    ['sourceId', { sourceId: '' }],
    ['readings', { readings: [] }],
    ['readings.0.quantity', { readings: [{ ...reading0, quantity: '' }] }],
    ['readings.0.storage', { readings: [{ ...reading0, storage: -1 }] }],
    ['readings.0.tariff', { readings: [{ ...reading0, tariff: 1.5 }] }],
    ['readings.0.unit', { readings: [{ ...reading0, unit: null }] }],
    ['readings.1.value', { readings: [reading0, { ...reading0, value: Number.NaN }] }],
    ['readings.0.value', { readings: [{ ...reading0, value: Number.NEGATIVE_INFINITY }] }],
  ])('refuses readings with a bad %s (%j) like the schema', (field, change) => {
    const bad = { ...readings, ...change } as ReadingsMessage;
    const fieldOf = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        expect(error).toBeInstanceOf(MessageValidationError);
        return (error as MessageValidationError).field;
      }
      throw new Error('accepted');
    };
    expect(fieldOf(() => encodeReadings(bad))).toBe(field);
    // JSON has no NaN or Infinity: the decoder gets them as null and names the same field.
    expect(fieldOf(() => decodeReadings(Buffer.from(JSON.stringify(bad))))).toBe(field);
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
