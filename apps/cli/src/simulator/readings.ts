import { CompactFormatStore, decodeTelegram, readingsOf, type Reading } from '@hes/wmbus';
import type { SimulatedMeter } from './fleet';
import type { FrameKind } from './telegram-factory';

/**
 * The readings a telegram carries, by the pipeline's own rule: the codec's decodeTelegram with the meter's
 * key, then the drivers' readingsOf (every numeric, non-opaque record; dates and the Kamstrup info code
 * are not readings). Throws when the telegram does not decode: the simulator produced something wrong.
 */
export function readingsInTelegram(bytes: Buffer, key: Buffer, formats: CompactFormatStore): Reading[] {
  const result = decodeTelegram(bytes, { key, formats });
  if (!result.ok || result.header === undefined) {
    throw new Error(
      `simulated telegram does not decode: ${result.error?.code ?? 'no header'} ${result.error?.message ?? ''}`,
    );
  }
  return readingsOf(result.header, result.records);
}

/**
 * Readings per telegram, decoded once per template. Exact because every telegram of a template (meter
 * model and frame kind) has the same record layout and the simulator never sends an invalid value, so
 * readingsOf yields the same number for all of them; the unit tests check that claim telegram by telegram.
 */
export class ReadingCounter {
  private readonly perTemplate = new Map<string, number>();
  private readonly formats = CompactFormatStore.withKnownFormats();

  count(meter: SimulatedMeter, frame: FrameKind, bytes: Buffer): number {
    const template = `${meter.model.manufacturer}/${meter.model.deviceType}/${frame}`;
    let count = this.perTemplate.get(template);
    if (count === undefined) {
      count = readingsInTelegram(bytes, meter.key, this.formats).length;
      this.perTemplate.set(template, count);
    }
    return count;
  }

  /** Template → readings per telegram, for the summary. */
  templates(): Record<string, number> {
    return Object.fromEntries(this.perTemplate);
  }
}
