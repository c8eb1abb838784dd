export * from './types';
export { crc16En13757 } from './crc';
export { parseHex, toHex } from './hex';
export { stripFrame, addFrameCrcs } from './frame';
export type { FrameResult, StrippedFrame, StrippedFormat } from './frame';
export {
  parseDll,
  manufacturerFromCode,
  manufacturerToCode,
  idFromWire,
  idToWire,
  isWmbusCField,
} from './dll';
export type { DllHeader } from './dll';
export { mediumName } from './medium';
export { parseEll, ellCtrIv, isEllCi } from './ell';
export type { ParsedEll } from './ell';
export { parseAfl } from './afl';
export type { ParsedAfl } from './afl';
export { parseTpl, isTplCi, isCompactCi, isManufacturerCi } from './tpl';
export type { ParsedTpl, TplAddress } from './tpl';
export { parseWiredFrame, looksLikeWiredFrame } from './wired';
export type { WiredFrame } from './wired';
export { aesCtr } from './security/ctr';
export { cbcDecrypt, cbcEncrypt } from './security/cbc';
export { aesCmac, deriveMode7Key } from './security/cmac-kdf';
export { COMPACT_CRC_MISMATCH, decodeTelegram } from './decode';
export type { DecodeOptions } from './decode';
export { encodeTelegram } from './encode';
export { telegramReadings } from './telegram-readings';
export type {
  DecodedTelegramReadings,
  FailedTelegramReadings,
  TelegramReadingValue,
  TelegramReadingsOutcome,
} from './telegram-readings';
export type { EncodeInput } from './encode';
export * from './records';
export * from './compact';
export * from './drivers';
export * from './vw1871';
