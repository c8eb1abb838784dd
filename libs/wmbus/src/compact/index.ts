export { formatSignature, formatOfRecords } from './signature';
export { CompactFormatStore } from './format-store';
export type { CompactFormatEntry, CompactFormatSource, CompactFormatStoreJson } from './format-store';
export { KAMSTRUP_WATER_FORMATS, KNOWN_COMPACT_FORMATS } from './known-formats';
export type { KnownCompactFormats } from './known-formats';
