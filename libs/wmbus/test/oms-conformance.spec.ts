/**
 * OMS conformance of the record layer against wmbusmeters' driver test vectors (../shared/wmbus/vectors.jsonl).
 *
 * Stage 1 (independent of the rest of the codec): for every vector whose application layer is readable
 * without a key (unencrypted, already-decrypted "2F2F" telegrams, or a given plaintext_telegram), the APL
 * is located with the vector's own header description (`header.layers`), compact frames are expanded with
 * the drivers' pre-declared formats or formats learned from the vector's preceding full frames, and the
 * records are decoded with parseRecords. Every expected numeric/date field named with a standard OMS
 * quantity suffix must equal the value of some decoded record (after unit conversion), unless listed in
 * EXCLUDED_FIELDS with the reason wmbusmeters' value does not come from a standard record.
 */
import { crc16En13757 } from '../src/crc';
import { KNOWN_COMPACT_FORMATS } from '../src/compact/known-formats';
import { convertUnit, parseRecords } from '../src/records';
import type { DataRecord } from '../src/types';
import { decodeVectorTelegrams, loadVectors } from './vectors';
import type { WmbusVector } from './vectors';

const READABLE_CLASSES = new Set(['unencrypted', 'nokey_plaintext_marked_encrypted']);

/** Field-name suffix → unit token of the value wmbusmeters prints under that name. */
const SUFFIX_UNITS: ReadonlyArray<[string, string]> = [
  ['_m3h', 'm3h'],
  ['_m3', 'm3'],
  ['_kwh', 'kwh'],
  ['_mj', 'mj'],
  ['_gj', 'gj'],
  ['_kw', 'kw'],
  ['_w', 'w'],
  ['_lh', 'lh'],
  ['_c', 'c'],
  ['_datetime', 'datetime'],
  ['_date', 'date'],
];

/**
 * Fields whose wmbusmeters value does not come from a standard OMS record, so no decoded record can carry
 * it. A field is excluded when driver, optional vector names, optional record condition and field pattern
 * all apply. Every rule must exclude at least one field that really fails; unneeded rules fail the test.
 */
interface Exclusion {
  driver: string;
  vectors?: string[];
  /** Applies only to telegrams whose decoded records satisfy this (e.g. contain a manufacturer container). */
  when?: (records: DataRecord[]) => boolean;
  fields: RegExp;
  reason: string;
}

const hasRecord = (key: string) => (records: DataRecord[]) => records.some((record) => record.key === key);
const ALL_FIELDS = /./;

const EXCLUSIONS: Exclusion[] = [
  {
    driver: 'apator162',
    fields: /^total_m3$/,
    reason:
      'register sits in the manufacturer block after DIF 0x0F; the driver scans it for a proprietary tag',
  },
  {
    driver: 'bfw240radio',
    fields: /^device_date$/,
    reason: 'proprietary payload after the TPL header, not OMS records',
  },
  {
    driver: 'ebzwmbe',
    fields: /^current_power_consumption_kw$/,
    reason: 'driver sums the three phase records',
  },
  { driver: 'evo868', fields: /^history_\d+_date$/, reason: 'driver computes reference date minus N months' },
  {
    driver: 'waterstarm',
    fields: /^history_\d+_date$/,
    reason: 'driver computes reference date minus N months',
  },
  { driver: 'microclima', fields: /^set_date_\d+_date$/, reason: 'driver computes set date minus N months' },
  { driver: 'uiws', fields: /^target_\d+_date$/, reason: 'driver computes target date minus N months' },
  {
    driver: 'uiws',
    fields: /^target_\d+_m3$/,
    reason: 'history unpacked by the driver from the LVAR container 8D0F9313',
  },
  ...[
    ['gwfgas', 'mygas1', 'target_date'],
    ['istaheat', 'HeatItUp', 'last_year_date'],
    ['kamheat', 'Kamstrup_MC303_Heat_AND_COOLING', 'target_date'],
    ['sensostar', 'Heat', 'target_date'],
  ].map(([driver, vector, field]): Exclusion => ({
    driver,
    vectors: [vector],
    fields: new RegExp(`^${field}$`),
    reason:
      'all-zero type G date: wmbusmeters normalises 2000-00-00 through mktime to 1999-11-30; we keep 2000-00-00',
  })),
  ...['hydroclima', 'hydroclimav2', 'hydrodigit', 'zenner0b'].map((driver): Exclusion => ({
    driver,
    when: hasRecord('0F'),
    fields: ALL_FIELDS,
    reason: 'values live in the manufacturer data after DIF 0x0F and are decoded by the driver',
  })),
  ...[
    'apator08',
    'apator172',
    'apatoreitn',
    'compact5',
    'fhkvdataiii',
    'izar',
    'izarv2',
    'mkradio3',
    'mkradio3a',
    'mkradio4',
    'tsd2',
    'vario451',
  ].map((driver): Exclusion => ({
    driver,
    when: (records) => records.every((record) => record.quantity === 'manufacturer_specific'),
    fields: ALL_FIELDS,
    reason:
      'manufacturer-specific CI (0xA0–0xB7): the whole payload is proprietary and decoded by the driver',
  })),
  {
    driver: 'rfmtx1',
    fields: ALL_FIELDS,
    reason: 'Diehl security mode 16 (LFSR) payload in a proprietary layout that the driver decodes itself',
  },
  {
    driver: 'ime',
    fields: ALL_FIELDS,
    reason: 'manufacturer VIF (0xFF) records, meaning assigned by the driver',
  },
  ...['qcaloric', 'qheat', 'qheatv2', 'qwater', 'qwaterv2'].map((driver): Exclusion => ({
    driver,
    when: hasRecord('0DFF5F'),
    fields: ALL_FIELDS,
    reason: 'Qundis packs history in the manufacturer container 0DFF5F; deltas are computed by the driver',
  })),
];

/**
 * Measured per driver: [cases decoded, fields checked]. All checked fields must match, so this pins the exact
 * pass count; a change in either number (a vector no longer decoded, a field newly excluded) fails the test.
 */
const EXPECTED_COUNTS: Record<string, [number, number]> = {
  abbb23: [1, 1],
  aerius: [1, 5],
  amiplus: [7, 51],
  apator162: [19, 0],
  aptmbusna: [2, 10],
  aquastream: [1, 5],
  aventieshca: [1, 0],
  aventieswm: [2, 30],
  bfw240radio: [6, 0],
  c5isf: [3, 43],
  caltose: [4, 8],
  cma12w: [1, 2],
  dme_07: [1, 1],
  dme173: [2, 12],
  ebzwmbe: [2, 5],
  ehzp: [1, 3],
  ei6500: [6, 36],
  elf: [1, 8],
  elf2: [2, 20],
  elster: [1, 1],
  eltako: [1, 13],
  elvsense: [3, 3],
  em24: [3, 6],
  emerlin868: [2, 6],
  enercal: [1, 13],
  engelmann_faw: [1, 17],
  esyswm: [2, 8],
  eurisii: [2, 0],
  ev200: [1, 2],
  evo868: [2, 40],
  fhkvdataiv: [1, 1],
  fiowater: [1, 2],
  gransystems: [2, 24],
  gwfgas: [1, 2],
  gwfwater: [3, 8],
  hcae2: [5, 13],
  hydrocalm3: [1, 9],
  hydrocalm4: [5, 27],
  hydroclima: [2, 0],
  hydroclimav2: [3, 0],
  hydrodigit: [6, 0],
  hydrus: [3, 18],
  iem3000: [13, 117],
  ime: [4, 0],
  iperl: [2, 4],
  istaheat: [2, 11],
  istawater: [1, 3],
  itron: [4, 17],
  itronheat: [2, 9],
  iwmtx5: [3, 5],
  kaden: [2, 8],
  kadenwater: [4, 20],
  kamheat: [25, 225],
  kampress: [1, 0],
  lansendw: [2, 0],
  lansenpu: [3, 0],
  lansenrp: [2, 2],
  lansensm: [2, 0],
  lansenth: [2, 6],
  lse_07_17: [4, 11],
  lse_08: [1, 2],
  maddalena: [1, 4],
  microclima: [2, 27],
  minomess: [3, 11],
  mkradio4a: [2, 4],
  munia: [2, 2],
  nemo: [3, 14],
  nzr: [3, 11],
  omnipower: [1, 4],
  op041a: [1, 2],
  picoflux: [3, 9],
  piigth: [2, 5],
  pollucomf: [1, 13],
  q400: [5, 44],
  qcaloric: [9, 9],
  qheat: [6, 19],
  qheat_55_us: [2, 36],
  qheat5us: [1, 4],
  qheatv2: [6, 17],
  qsmoke: [2, 2],
  qualcosonic: [3, 36],
  qwater: [18, 64],
  qwaterv2: [18, 64],
  relhca: [1, 3],
  rfmamb: [2, 16],
  sensostar: [3, 50],
  sharky: [2, 22],
  sharky774: [5, 41],
  sontex868: [1, 6],
  supercal: [1, 10],
  supercom587: [2, 2],
  topaseskr: [2, 16],
  uiws: [1, 6],
  ultraheat: [3, 23],
  ultrimis: [2, 6],
  ultrimisv2: [5, 15],
  unismart: [1, 5],
  vario411: [1, 2],
  vario451mid: [1, 4],
  waterstarm: [8, 88],
  watertech: [1, 2],
  weh_07: [2, 4],
  werhlemodwm: [1, 31],
  zenner0b: [2, 0],
};

/** As EXPECTED_COUNTS, for stage 2 (decodeTelegram: also keyed, encrypted and manufacturer-CI telegrams). */
const EXPECTED_COUNTS_CODEC: Record<string, [number, number]> = {
  abbb23: [1, 1],
  actislink: [1, 1],
  aerius: [1, 5],
  amiplus: [7, 51],
  apator08: [2, 0],
  apator162: [19, 0],
  apator172: [2, 0],
  apatoreitn: [3, 0],
  apatorna1: [10, 40],
  aptmbusna: [2, 10],
  aquastream: [1, 5],
  aventieshca: [1, 0],
  aventieswm: [2, 30],
  bfw240radio: [6, 0],
  c5isf: [3, 43],
  caltose: [4, 8],
  cma12w: [1, 2],
  compact5: [4, 0],
  dme_07: [1, 1],
  dme173: [2, 12],
  ebzwmbe: [2, 5],
  ehzp: [1, 3],
  ei6500: [6, 36],
  elf: [1, 8],
  elf2: [2, 20],
  elster: [1, 1],
  eltako: [1, 13],
  elvsense: [3, 3],
  em24: [3, 6],
  emerlin868: [2, 6],
  enercal: [1, 13],
  engelmann_faw: [2, 36],
  esyswm: [2, 8],
  eurisii: [2, 0],
  ev200: [1, 2],
  evo868: [2, 40],
  fhkvdataiii: [3, 0],
  fhkvdataiv: [1, 1],
  fiowater: [1, 2],
  gransystems: [2, 24],
  gwfgas: [1, 2],
  gwfwater: [3, 8],
  hcae2: [5, 13],
  hydrocalm3: [1, 9],
  hydrocalm4: [5, 27],
  hydroclima: [2, 0],
  hydroclimav2: [3, 0],
  hydrodigit: [6, 0],
  hydrus: [6, 35],
  iem3000: [13, 117],
  ime: [4, 0],
  iperl: [2, 4],
  istaheat: [2, 11],
  istawater: [1, 3],
  itron: [4, 17],
  itronheat: [2, 9],
  iwmtx5: [3, 5],
  izar: [6, 0],
  izarv2: [6, 0],
  kaden: [2, 8],
  kadenwater: [4, 20],
  kamheat: [28, 257],
  kampress: [1, 0],
  lansendw: [2, 0],
  lansenpu: [3, 0],
  lansenrp: [2, 2],
  lansensm: [2, 0],
  lansenth: [2, 6],
  lse_07_17: [4, 11],
  lse_08: [1, 2],
  maddalena: [1, 4],
  microclima: [2, 27],
  minomess: [3, 11],
  mkradio3: [4, 0],
  mkradio3a: [1, 0],
  mkradio4: [1, 0],
  mkradio4a: [2, 4],
  munia: [2, 2],
  nemo: [3, 14],
  nzr: [3, 11],
  omnipower: [1, 4],
  op041a: [1, 2],
  picoflux: [3, 9],
  piigth: [2, 5],
  pollucomf: [1, 13],
  q400: [5, 44],
  qcaloric: [9, 9],
  qheat: [6, 19],
  qheat_55_us: [2, 36],
  qheat5us: [1, 4],
  qheatv2: [6, 17],
  qsmoke: [2, 2],
  qualcosonic: [3, 36],
  qwater: [18, 64],
  qwaterv2: [18, 64],
  relhca: [1, 3],
  rfmamb: [2, 16],
  rfmtx1: [1, 0],
  sensostar: [3, 50],
  sharky: [3, 31],
  sharky774: [5, 41],
  sontex868: [1, 6],
  supercal: [1, 10],
  supercom587: [2, 2],
  topaseskr: [2, 16],
  tsd2: [4, 0],
  uiws: [1, 6],
  ultraheat: [3, 23],
  ultrimis: [2, 6],
  ultrimisv2: [5, 15],
  unismart: [1, 5],
  vario411: [1, 2],
  vario451: [1, 0],
  vario451mid: [1, 4],
  waterstarm: [8, 88],
  watertech: [1, 2],
  weh_07: [2, 4],
  werhlemodwm: [1, 31],
  zenner0b: [2, 0],
};

function exclusionFor(driver: string, vector: string, records: DataRecord[], field: string): number {
  return EXCLUSIONS.findIndex(
    (rule) =>
      rule.driver === driver &&
      (rule.vectors === undefined || rule.vectors.includes(vector)) &&
      (rule.when === undefined || rule.when(records)) &&
      rule.fields.test(field),
  );
}

function suffixUnit(field: string): string | undefined {
  for (const [suffix, unit] of SUFFIX_UNITS) if (field.endsWith(suffix)) return unit;
  return undefined;
}

function stripFormatB(frame: Buffer): Buffer {
  // Format B: the first CRC covers bytes 0–125 when the frame is longer than 128 bytes, a second one the rest.
  if (frame.length <= 128) return frame.subarray(0, frame.length - 2);
  return Buffer.concat([frame.subarray(0, 126), frame.subarray(128, frame.length - 2)]);
}

interface LocatedApl {
  apl: Buffer;
  compactSignature?: number;
}

/** Finds the APL from the vector's header description; undefined when the telegram carries no records. */
function locateApl(telegram: Buffer, vector: WmbusVector): LocatedApl | undefined {
  const header = vector.header;
  if (header.frame === 'mbus_wired') {
    // 68 L L 68 C A CI(0x72) + 12-byte long header … CS 16
    return { apl: telegram.subarray(19, telegram.length - 2) };
  }
  const frame = header.dll_crcs === 'B' ? stripFormatB(telegram) : telegram;
  const securityMode = header.tpl_cfg === undefined ? 0 : parseInt(header.tpl_cfg.slice(0, 2), 16) & 0x1f;
  let pos = 10;
  for (const layer of header.layers ?? []) {
    switch (layer) {
      case 'ELL_8C':
        pos += 3;
        break;
      case 'ELL_8D':
        pos += 9;
        break;
      case 'ELL_8E':
        pos += 11;
        break;
      case 'ELL_8F':
        pos += 17;
        break;
      case 'AFL':
        pos += 2 + frame[pos + 1];
        break;
      case 'TPL_78':
        return { apl: frame.subarray(pos + 1) };
      case 'TPL_7A':
        return { apl: frame.subarray(pos + 5 + (securityMode === 7 ? 1 : 0)) };
      case 'TPL_72':
        return { apl: frame.subarray(pos + 13 + (securityMode === 7 ? 1 : 0)) };
      case 'TPL_79':
        return { apl: frame.subarray(pos + 5), compactSignature: frame.readUInt16LE(pos + 1) };
      case 'TPL_73':
        return { apl: frame.subarray(pos + 17), compactSignature: frame.readUInt16LE(pos + 13) };
      default:
        return undefined; // manufacturer-specific CI or still-encrypted payload: no standard records
    }
  }
  return undefined;
}

function formatOf(records: DataRecord[]): Buffer {
  const headers: Buffer[] = [];
  for (const record of records) {
    if ((parseInt(record.header.slice(0, 2), 16) & 0x0f) === 0x0f) break;
    headers.push(Buffer.from(record.header, 'hex'));
  }
  return Buffer.concat(headers);
}

function decodeVector(vector: WmbusVector): DataRecord[] | undefined {
  // Stage 1 does not parse addresses, so the pre-declared formats of every meter type are tried by signature.
  const formats = new Map<number, Buffer>();
  for (const known of KNOWN_COMPACT_FORMATS.flatMap((row) => row.formats)) {
    const bytes = Buffer.from(known, 'hex');
    formats.set(crc16En13757(bytes), bytes);
  }
  for (const preceding of vector.preceding_telegrams ?? []) {
    const located = locateApl(Buffer.from(preceding, 'hex'), vector);
    if (located === undefined || located.compactSignature !== undefined) continue;
    const format = formatOf(parseRecords(located.apl).records);
    const signature = crc16En13757(format);
    if (!formats.has(signature)) formats.set(signature, format);
  }
  const located = locateApl(Buffer.from(vector.plaintext_telegram ?? vector.telegram, 'hex'), vector);
  if (located === undefined) return undefined;
  if (located.compactSignature === undefined) return parseRecords(located.apl).records;
  const format = formats.get(located.compactSignature);
  return format === undefined ? undefined : parseRecords(located.apl, { format }).records;
}

function round6(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

function recordMatches(record: DataRecord, expected: number | string, unit: string): boolean {
  if (record.value === null) return false;
  if (unit === 'date') return record.value === expected;
  if (unit === 'datetime') {
    // Type I carries seconds; some wmbusmeters drivers print them, others cut the value to the minute.
    return (
      typeof record.value === 'string' &&
      (record.value === expected || record.value.slice(0, 16) === expected)
    );
  }
  if (typeof record.value !== 'number' || typeof expected !== 'number') return false;
  // A temperature difference in K has the same magnitude in °C; wmbusmeters prints it with "_c".
  const converted =
    record.unit === 'k' && unit === 'c' ? record.value : convertUnit(record.value, record.unit, unit);
  return converted !== undefined && round6(converted) === round6(expected);
}

interface DriverTally {
  cases: number;
  checked: number;
  matched: number;
}

interface StageResult {
  tallies: Map<string, DriverTally>;
  failures: string[];
  exclusionsNeeded: Set<number>;
}

function checkVectors(
  vectors: WmbusVector[],
  decode: (vector: WmbusVector) => DataRecord[] | undefined,
): StageResult {
  const result: StageResult = { tallies: new Map(), failures: [], exclusionsNeeded: new Set() };
  for (const vector of vectors) {
    if (vector.expected === null) continue;
    const records = decode(vector);
    if (records === undefined) continue;
    const tally = result.tallies.get(vector.driver) ?? { cases: 0, checked: 0, matched: 0 };
    result.tallies.set(vector.driver, tally);
    tally.cases++;
    for (const [field, expected] of Object.entries(vector.expected)) {
      const unit = suffixUnit(field);
      if (unit === undefined) continue;
      const isDate = unit === 'date' || unit === 'datetime';
      if (isDate ? typeof expected !== 'string' || expected === '' : typeof expected !== 'number') continue;
      const matched = records.some((record) => recordMatches(record, expected as number | string, unit));
      const exclusion = exclusionFor(vector.driver, vector.name, records, field);
      if (exclusion >= 0) {
        if (!matched) result.exclusionsNeeded.add(exclusion);
        continue;
      }
      tally.checked++;
      if (matched) tally.matched++;
      else result.failures.push(`${vector.driver} "${vector.name}" ${field}=${JSON.stringify(expected)}`);
    }
  }
  return result;
}

function printTable(title: string, tallies: Map<string, DriverTally>): void {
  const row = (name: string, t: DriverTally) =>
    `${name.padEnd(16)} ${String(t.cases).padStart(5)} ${String(t.checked).padStart(7)} ${String(t.matched).padStart(7)}`;
  const rows = [...tallies.entries()].sort(([a], [b]) => a.localeCompare(b));
  const total = { cases: 0, checked: 0, matched: 0 };
  for (const [, t] of rows) {
    total.cases += t.cases;
    total.checked += t.checked;
    total.matched += t.matched;
  }
  console.log(
    [
      title,
      `${'driver'.padEnd(16)} ${'cases'.padStart(5)} ${'checked'.padStart(7)} ${'matched'.padStart(7)}`,
      ...rows.map(([driver, t]) => row(driver, t)),
      row('TOTAL', total),
      `exclusion rules: ${EXCLUSIONS.length}`,
    ].join('\n'),
  );
}

function measuredCounts(tallies: Map<string, DriverTally>): Record<string, [number, number]> {
  return Object.fromEntries([...tallies.entries()].map(([driver, t]) => [driver, [t.cases, t.checked]]));
}

/** Stage 2: the whole codec (frame, layers, decryption with the vector's key, compact formats) via decodeTelegram. */
function decodeWithCodec(vector: WmbusVector): DataRecord[] | undefined {
  const { result } = decodeVectorTelegrams(vector);
  return result.records.length > 0 ? result.records : undefined;
}

// kamwater is excluded by the brief: its fields come from the driver's own status logic and are checked
// by the decoder's conformance test.
const vectors = loadVectors().filter((vector) => vector.driver !== 'kamwater');

const stages: Array<[string, StageResult, Record<string, [number, number]>]> = [
  [
    'stage 1: APL located from the vector header, parseRecords only',
    checkVectors(
      vectors.filter((v) => v.plaintext_telegram !== undefined || READABLE_CLASSES.has(v.security_class)),
      decodeVector,
    ),
    EXPECTED_COUNTS,
  ],
  [
    'stage 2: decodeTelegram with the vector key',
    checkVectors(vectors, decodeWithCodec),
    EXPECTED_COUNTS_CODEC,
  ],
];

describe.each(stages)('OMS conformance, %s', (title, stage, expectedCounts) => {
  afterAll(() => printTable(title, stage.tallies));

  it('matches every checked field', () => {
    expect(stage.failures).toEqual([]);
  });

  it('decodes and checks exactly the measured cases and fields per driver', () => {
    expect(measuredCounts(stage.tallies)).toEqual(expectedCounts);
    for (const [driver, t] of stage.tallies) expect([driver, t.matched]).toEqual([driver, t.checked]);
  });
});

describe('OMS conformance exclusions', () => {
  it('has no stale exclusion rules (each one excludes a failing field in some stage)', () => {
    const stale = EXCLUSIONS.filter(
      (_, index) => !stages.some(([, stage]) => stage.exclusionsNeeded.has(index)),
    ).map((rule) => `${rule.driver} ${rule.fields}`);
    expect(stale).toEqual([]);
  });
});
