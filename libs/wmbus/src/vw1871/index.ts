export { Vw1871StreamParser, VW1871_MAX_FRAME_LENGTH, formatBCrcsValid, stripFormatB } from './vw1871-stream';
export type { Vw1871Item, Vw1871SkipReason } from './vw1871-stream';
