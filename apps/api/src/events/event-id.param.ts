import { Param, type PipeTransform } from '@nestjs/common';
import { ApiValidationException } from '../http/api-error';

/** Event ids are the table's bigint identity: positive decimal integers, kept as text (beyond 2^53). */
class EventIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!/^[1-9]\d{0,18}$/.test(value) || BigInt(value) > 9_223_372_036_854_775_807n) {
      throw new ApiValidationException([{ field: 'id', message: 'must be a positive integer' }]);
    }
    return value;
  }
}

export const EventIdParam = () => Param('id', new EventIdPipe());
