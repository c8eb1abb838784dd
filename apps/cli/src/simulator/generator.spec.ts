import { CompactFormatStore, decodeTelegram, encodeTelegram, readingsOf } from '@hes/wmbus';
import { createFleet, KAMSTRUP_FLOWIQ, OMS_WATER, type FleetOptions } from './fleet';
import { TelegramGenerator, type GeneratedTelegram } from './generator';
import { initialMeterState, type MeterState } from './meter-state';
import { readingsInTelegram } from './readings';
import { buildTelegram, encodeInputOf, registerLitres } from './telegram-factory';

const START = Date.UTC(2026, 2, 14, 5, 30, 0);
const options: FleetOptions = { meters: 200, seed: 7, groups: 5, omsFraction: 0.1, groupPrefix: 'sim' };

function take(generator: TelegramGenerator, count: number): GeneratedTelegram[] {
  return Array.from({ length: count }, () => generator.next());
}

describe('createFleet', () => {
  it('is deterministic for a seed and different for another seed', () => {
    const a = createFleet(options);
    const b = createFleet(options);
    const c = createFleet({ ...options, seed: 8 });
    expect(a.meters.map((m) => [m.id, m.key.toString('hex'), m.group, m.dailyLitres])).toEqual(
      b.meters.map((m) => [m.id, m.key.toString('hex'), m.group, m.dailyLitres]),
    );
    expect(c.meters.map((m) => m.id)).not.toEqual(a.meters.map((m) => m.id));
    expect(c.meters[0].key.equals(a.meters[0].key)).toBe(false);
  });

  it('gives unique 8-digit ids, 16-byte keys, the requested mix and an even spread over the groups', () => {
    const fleet = createFleet(options);
    const ids = fleet.meters.map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const meter of fleet.meters) {
      expect(meter.id).toMatch(/^[1-9]\d{7}$/);
      expect(meter.key).toHaveLength(16);
    }
    expect(fleet.meters.filter((m) => m.model === OMS_WATER)).toHaveLength(20);
    expect(fleet.meters.filter((m) => m.model === KAMSTRUP_FLOWIQ)).toHaveLength(180);
    const perGroup = new Map<number, number>();
    for (const meter of fleet.meters) perGroup.set(meter.group, (perGroup.get(meter.group) ?? 0) + 1);
    expect([...perGroup.values()]).toEqual([40, 40, 40, 40, 40]);
    expect(fleet.groupName(0)).toBe('sim-group-001');
    expect(fleet.groupName(4)).toBe('sim-group-005');
  });

  it('rejects options it cannot honour, naming the option', () => {
    expect(() => createFleet({ ...options, meters: 0 })).toThrow(/meters/);
    expect(() => createFleet({ ...options, omsFraction: 1.5 })).toThrow(/omsFraction/);
    expect(() => createFleet({ ...options, groupPrefix: 'a b' })).toThrow(/group prefix/);
  });
});

describe('TelegramGenerator', () => {
  it('produces the same telegram bytes for the same seed and start time', () => {
    const first = take(new TelegramGenerator(createFleet(options), START), 300);
    const second = take(new TelegramGenerator(createFleet(options), START), 300);
    expect(first.map((t) => t.bytes.toString('hex'))).toEqual(second.map((t) => t.bytes.toString('hex')));
  });

  it('emits transmissions in time order, each meter on a ~16 s (Kamstrup) or ~120 s (OMS) jittered cycle', () => {
    const fleet = createFleet(options);
    const telegrams = take(new TelegramGenerator(fleet, START), 5000);
    for (let i = 1; i < telegrams.length; i++)
      expect(telegrams[i].time).toBeGreaterThanOrEqual(telegrams[i - 1].time);
    const lastTime = new Map<number, number>();
    for (const telegram of telegrams) {
      const previous = lastTime.get(telegram.meter.index);
      if (previous !== undefined) {
        const gap = (telegram.time - previous) / 1000;
        const cycle = telegram.meter.model.cycleSeconds;
        expect(gap).toBeGreaterThanOrEqual(cycle * 0.9);
        expect(gap).toBeLessThanOrEqual(cycle * 1.1);
      }
      lastTime.set(telegram.meter.index, telegram.time);
    }
  });

  it('sends a Kamstrup full frame (CI 0x78) first and every 8th time, compact frames (CI 0x79) between', () => {
    const fleet = createFleet({ ...options, omsFraction: 0 });
    const telegrams = take(new TelegramGenerator(fleet, START), 200 * 20);
    const framesOfMeter0 = telegrams.filter((t) => t.meter.index === 0).map((t) => t.frame);
    expect(framesOfMeter0.slice(0, 17)).toEqual([
      'kamstrup-full',
      ...Array(7).fill('kamstrup-compact'),
      'kamstrup-full',
      ...Array(7).fill('kamstrup-compact'),
      'kamstrup-full',
    ]);
    const formats = CompactFormatStore.withKnownFormats();
    for (const telegram of telegrams.slice(0, 400)) {
      const result = decodeTelegram(telegram.bytes, { key: telegram.meter.key, formats });
      expect(result.header?.tpl?.ci).toBe(telegram.frame === 'kamstrup-full' ? 0x78 : 0x79);
    }
  });

  it('writes Kamstrup frames byte for byte as encodeTelegram does (fast path), alarms and extremes included', () => {
    const fleet = createFleet({ ...options, meters: 50, omsFraction: 0 });
    const generator = new TelegramGenerator(fleet, START);
    for (let i = 0; i < 1000; i++) {
      const telegram = generator.next();
      const state = generator.stateOf(telegram.meter.index);
      expect(telegram.bytes.toString('hex')).toBe(
        encodeTelegram(encodeInputOf(telegram.meter, state)).toString('hex'),
      );
    }
    const meter = fleet.meters[3];
    const state = initialMeterState(meter, START);
    const extremes: Array<Partial<MeterState>> = [
      { alarm: { kind: 'BURST', since: START, until: START + 1 }, history: 0x7ff0 },
      {
        alarm: { kind: 'DRY', since: START, until: START + 1 },
        flowTemperatureC: -5,
        externalTemperatureC: -128,
      },
      { litres: 4_294_967_295.9, targetLitres: 4_294_967_295, transmissions: 255 },
      { transmissions: 256 + 8, externalTemperatureC: 127 },
    ];
    for (const change of extremes) {
      Object.assign(state, change);
      expect(buildTelegram(meter, state).bytes.toString('hex')).toBe(
        encodeTelegram(encodeInputOf(meter, state)).toString('hex'),
      );
    }
  });

  it('decodes every telegram with the meter key to the state the meter was in, with the counted readings', () => {
    const fleet = createFleet(options);
    const generator = new TelegramGenerator(fleet, START);
    const formats = CompactFormatStore.withKnownFormats();
    const kinds = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const telegram = generator.next();
      const state = generator.stateOf(telegram.meter.index);
      const result = decodeTelegram(telegram.bytes, { key: telegram.meter.key, formats });
      expect(result.error).toBeUndefined();
      expect(result.header?.id).toBe(telegram.meter.id);
      expect(readingsOf(result.header!, result.records)).toHaveLength(telegram.readings);
      kinds.add(telegram.frame);
      if (telegram.meter.model.kind === 'kamstrup') {
        expect(result.driver).toBe('kamwater');
        expect(result.security).toBe('ell-aes-ctr');
        expect(result.fields.total_m3).toBe(registerLitres(state) / 1000);
        expect(result.fields.target_m3).toBe(state.targetLitres / 1000);
        expect(result.fields.flow_temperature_c).toBe(state.flowTemperatureC);
        expect(result.fields.min_external_temperature_last_month_c).toBe(state.externalTemperatureC);
        expect(result.fields.current_status).toBe(state.alarm?.kind ?? '');
      } else {
        expect(result.security).toBe('mode-5');
        const values = Object.fromEntries(result.records.map((r) => [r.key, r.value]));
        expect(values['0413']).toBe(registerLitres(state) / 1000);
        expect(values['4413']).toBe(state.targetLitres / 1000);
        expect(values['426C']).toBe(state.targetDate);
        expect(values['046D']).toBe(new Date(state.time).toISOString().slice(0, 16).replace('T', ' '));
      }
    }
    expect([...kinds].sort()).toEqual(['kamstrup-compact', 'kamstrup-full', 'oms-mode5']);
    expect(generator.readings.templates()).toEqual({
      'KAM/22/kamstrup-full': 4,
      'KAM/22/kamstrup-compact': 4,
      'APA/7/oms-mode5': 2,
    });
  });

  it('keeps every meter register non-decreasing, at a realistic daily consumption, and target <= total', () => {
    const fleet = createFleet({ ...options, meters: 10, omsFraction: 0 });
    const generator = new TelegramGenerator(fleet, START);
    const formats = CompactFormatStore.withKnownFormats();
    const last = new Map<string, number>();
    const first = new Map<string, { time: number; total: number }>();
    let end = START;
    while (end < START + 86_400_000) {
      const telegram = generator.next();
      end = telegram.time;
      const [total, target] = readingsInTelegram(telegram.bytes, telegram.meter.key, formats).map(
        (r) => r.value,
      );
      const previous = last.get(telegram.meter.id);
      if (previous !== undefined) expect(total).toBeGreaterThanOrEqual(previous);
      expect(target).toBeLessThanOrEqual(total);
      last.set(telegram.meter.id, total);
      if (!first.has(telegram.meter.id)) first.set(telegram.meter.id, { time: telegram.time, total });
    }
    const litresPerDay = fleet.meters.map((meter) => {
      const start = first.get(meter.id)!;
      return ((last.get(meter.id)! - start.total) * 1000) / ((end - start.time) / 86_400_000);
    });
    const median = litresPerDay.sort((a, b) => a - b)[5];
    expect(median).toBeGreaterThan(100);
    expect(median).toBeLessThan(1500);
  });

  it('raises occasional LEAK/BURST/DRY/REVERSE states that clear again', () => {
    const fleet = createFleet({ ...options, meters: 100, omsFraction: 0 });
    const generator = new TelegramGenerator(fleet, START);
    const seen = new Set<string>();
    let cleared = 0;
    const active = new Map<number, string>();
    for (let i = 0; i < 100 * 3000; i++) {
      const telegram = generator.next();
      const alarm = generator.stateOf(telegram.meter.index).alarm?.kind;
      if (alarm) seen.add(alarm);
      if (active.has(telegram.meter.index) && !alarm) cleared++;
      if (alarm) active.set(telegram.meter.index, alarm);
      else active.delete(telegram.meter.index);
    }
    expect([...seen].sort()).toEqual(['BURST', 'DRY', 'LEAK', 'REVERSE']);
    expect(cleared).toBeGreaterThan(10);
  });
});
