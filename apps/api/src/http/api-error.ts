import { BadRequestException, HttpStatus, type ValidationError } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';

/** One problem with one input field: `field` is a dotted path into the body (`items[2].name`) or a parameter name. */
export class ApiErrorDetail {
  @ApiProperty({ example: 'email' })
  field!: string;
  @ApiProperty({ example: 'must be an email' })
  message!: string;
}

export class ApiErrorBody {
  @ApiProperty({ example: 'validation_failed' })
  code!: string;
  @ApiProperty({ example: 'request validation failed' })
  message!: string;
  @ApiProperty({ type: [ApiErrorDetail] })
  details!: ApiErrorDetail[];
}

/** The one error format of every API answer that is not a success: `{ error: { code, message, details } }`. */
export class ApiErrorResponse {
  @ApiProperty({ type: ApiErrorBody })
  error!: ApiErrorBody;
}

/** Machine-readable codes by HTTP status, for errors that do not bring their own. */
export const ERROR_CODES: Readonly<Record<number, string>> = {
  [HttpStatus.BAD_REQUEST]: 'bad_request',
  [HttpStatus.UNAUTHORIZED]: 'unauthorized',
  [HttpStatus.FORBIDDEN]: 'forbidden',
  [HttpStatus.NOT_FOUND]: 'not_found',
  [HttpStatus.METHOD_NOT_ALLOWED]: 'method_not_allowed',
  [HttpStatus.CONFLICT]: 'conflict',
  [HttpStatus.PAYLOAD_TOO_LARGE]: 'payload_too_large',
  [HttpStatus.UNSUPPORTED_MEDIA_TYPE]: 'unsupported_media_type',
  [HttpStatus.TOO_MANY_REQUESTS]: 'rate_limited',
  [HttpStatus.SERVICE_UNAVAILABLE]: 'unavailable',
};

export function errorBody(code: string, message: string, details: ApiErrorDetail[] = []): ApiErrorResponse {
  return { error: { code, message, details } };
}

/** A 400 carrying field-level details, already in the API's error format. */
export class ApiValidationException extends BadRequestException {
  constructor(details: ApiErrorDetail[]) {
    super(errorBody('validation_failed', 'request validation failed', details));
  }
}

/** Flattens class-validator's nested errors into one detail per failed constraint, with the full field path. */
export function validationDetails(errors: readonly ValidationError[], parent = ''): ApiErrorDetail[] {
  const details: ApiErrorDetail[] = [];
  for (const error of errors) {
    const field =
      parent === ''
        ? error.property
        : /^\d+$/.test(error.property)
          ? `${parent}[${error.property}]`
          : `${parent}.${error.property}`;
    for (const message of Object.values(error.constraints ?? {})) details.push({ field, message });
    if (error.children && error.children.length > 0)
      details.push(...validationDetails(error.children, field));
  }
  return details;
}
