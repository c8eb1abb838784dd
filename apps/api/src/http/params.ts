import { Param, ParseUUIDPipe } from '@nestjs/common';
import { ApiValidationException } from './api-error';

/** A UUID path parameter; anything else is a 400 naming the parameter. */
export const UuidParam = (name: string) =>
  Param(
    name,
    new ParseUUIDPipe({
      exceptionFactory: () => new ApiValidationException([{ field: name, message: 'must be a UUID' }]),
    }),
  );

const METER_ID = /^[0-9A-Fa-f]{8}$/;

/** A meter id path parameter (8 hex digits, the wM-Bus identification number), returned upper-case. */
export function parseMeterId(value: string, field = 'meterId'): string {
  if (!METER_ID.test(value)) throw new ApiValidationException([{ field, message: 'must be 8 hex digits' }]);
  return value.toUpperCase();
}
