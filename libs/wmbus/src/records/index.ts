export { parseRecords } from './parse-records';
export type { ParseRecordsOptions, ParseRecordsResult } from './parse-records';
export { encodeRecords } from './encode-records';
export type { RecordSpec } from './encode-records';
export { convertUnit } from './units';
export { parseRecordHeader } from './vif';
export type { RecordHeader } from './vif';
export type { VifDescriptor, ValueKind } from './vif-tables';
