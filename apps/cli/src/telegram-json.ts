import type { DecodeResult } from '@hes/wmbus';

/** wmbusmeters' reception timestamp format: UTC, seconds precision. */
export function wmbusTimestamp(at: Date): string {
  return `${at.toISOString().slice(0, 19)}Z`;
}

/**
 * One output line for a decoded telegram. Successful decodes carry the wmbusmeters JSON fields at top
 * level (so existing wmbusmeters consumers keep working) followed by what wmbusmeters does not print:
 * the driver, security mode, parsed header and the generic records. Failures are
 * `{error: {code, message}, telegram}`, plus the header when the decoder got that far (it names the meter).
 */
export function telegramJson(
  result: DecodeResult,
  telegramHex: string,
  receivedAt: Date,
): Record<string, unknown> {
  if (!result.ok) {
    const error = result.error ?? { code: 'BAD_INPUT', message: 'decoder returned no error detail' };
    return {
      error: {
        code: error.code,
        message: error.message,
        ...(error.offset !== undefined && { offset: error.offset }),
      },
      telegram: telegramHex,
      ...(result.header && { header: result.header }),
    };
  }
  return {
    ...result.fields,
    timestamp: result.fields.timestamp ?? wmbusTimestamp(receivedAt),
    driver: result.driver ?? 'generic',
    security: result.security,
    frameFormat: result.frameFormat,
    header: result.header,
    records: result.records,
    ...(result.warnings.length > 0 && { warnings: result.warnings }),
    telegram: telegramHex,
  };
}

/** Error line for an input line that is not a telegram at all. */
export function badInputJson(line: string, why: string): Record<string, unknown> {
  return { error: { code: 'BAD_INPUT', message: why }, telegram: line };
}
