export { applyDriver, driverFor, readingsOf } from './registry';
export type { Reading } from './registry';
export type { DriverMapping, MeterDriver } from './driver';
export { headerFields, jsonNumber } from './fields';
export { genericFieldName } from './generic';
export { errorFlagTokens, infoCodeHistory, infoCodeTokens, kamwaterDriver } from './kamwater';
export { joinStatus, tplStatusTokens } from './status';
