export { applyDriver, driverFor, readingsOf } from './registry';
export type { Reading } from './registry';
export { apatorna1Driver, decodeApatorna1Payload } from './apatorna1';
export type { DriverMapping, ManufacturerPayloadOutcome, MeterDriver } from './driver';
export { headerFields, jsonNumber } from './fields';
export { genericFieldName } from './generic';
export { errorFlagTokens, infoCodeHistory, infoCodeTokens, kamwaterDriver } from './kamwater';
export { joinStatus, tplStatusTokens } from './status';
