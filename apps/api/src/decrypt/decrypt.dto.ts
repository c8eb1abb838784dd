import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsOptional,
  IsString,
  Length,
  ValidateNested,
} from 'class-validator';

/** Most items one batch request may carry. */
export const MAX_DECRYPT_BATCH = 1000;

export const TELEGRAM_ENCODINGS = ['hex', 'base64'] as const;
export type TelegramEncoding = (typeof TELEGRAM_ENCODINGS)[number];

export class DecryptTelegramRequest {
  @ApiProperty({
    description:
      'one raw wM-Bus telegram (with or without data-link CRCs) or wired M-Bus long frame, as hex (blanks and ' +
      "wmbusmeters' '_' allowed) or base64",
    example: '2A442D2C998734761B168D2091D37CAC21E1D68CDAFFCD3DC452BD802913FF7B1706CA9E355D6C2701CC24',
  })
  @IsString()
  @Length(1, 4096)
  telegram!: string;

  @ApiPropertyOptional({
    enum: TELEGRAM_ENCODINGS,
    description: 'how `telegram` is written; by default hex when it is only hex digits, else base64',
  })
  @IsOptional()
  @IsIn(TELEGRAM_ENCODINGS)
  encoding?: TelegramEncoding;
}

export class DecryptBatchRequest {
  @ApiProperty({ type: [DecryptTelegramRequest], minItems: 1, maxItems: MAX_DECRYPT_BATCH })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_DECRYPT_BATCH)
  @ValidateNested({ each: true })
  @Type(() => DecryptTelegramRequest)
  items!: DecryptTelegramRequest[];
}

export class DecryptReading {
  @ApiProperty({ example: 'total_m3', description: "the driver's field name (the stored quantity)" })
  quantity!: string;
  @ApiProperty({ example: 'm3' })
  unit!: string;
  @ApiProperty({ example: 6.408 })
  value!: number;
  @ApiProperty({ description: 'storage number (0 = current value, 1 = e.g. the due-date value)' })
  storage!: number;
  @ApiProperty()
  tariff!: number;
}

export class DecryptError {
  @ApiProperty({
    example: 'NO_KEY',
    description:
      "UNKNOWN_METER (not one of your meters), KEY_UNREADABLE (the stored key cannot be decrypted), or the decoder's code: " +
      'BAD_INPUT, TOO_SHORT, BAD_LENGTH, BAD_CRC, BAD_C_FIELD, UNKNOWN_CI, TRUNCATED, NO_KEY, DECRYPTION_FAILED ' +
      '(wrong key or corrupt telegram), MAC_MISMATCH, UNEXPECTED_PLAINTEXT, UNSUPPORTED_SECURITY, ' +
      'UNKNOWN_COMPACT_FORMAT, BAD_RECORD',
  })
  code!: string;
  @ApiProperty({ example: 'no key for meter 76348799' })
  message!: string;
}

export class DecryptResult {
  @ApiProperty({ description: 'position of the item in the request (0 for a single telegram)' })
  index!: number;
  @ApiProperty()
  ok!: boolean;
  @ApiProperty({
    nullable: true,
    type: String,
    example: '76348799',
    description: 'the meter the telegram is from, when known',
  })
  meterId!: string | null;
  @ApiPropertyOptional({ example: 'kamwater' })
  driver?: string;
  @ApiPropertyOptional({ example: 'KAM' })
  manufacturer?: string;
  @ApiPropertyOptional({ example: 22 })
  deviceType?: number;
  @ApiPropertyOptional({ example: 27 })
  version?: number;
  @ApiPropertyOptional({ example: 'cold water' })
  medium?: string;
  @ApiPropertyOptional({ example: 'ell-aes-ctr', description: 'how the telegram was protected' })
  security?: string;
  @ApiPropertyOptional({ example: 'OK', description: "the meter's status as its driver reports it" })
  status?: string;
  @ApiPropertyOptional({ description: 'the meter reports a permanent or temporary error' })
  meterError?: boolean;
  @ApiPropertyOptional({ type: [DecryptReading] })
  readings?: DecryptReading[];
  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: 'all decoded fields, named as wmbusmeters names them',
  })
  fields?: Record<string, unknown>;
  @ApiPropertyOptional({ type: [String] })
  warnings?: string[];
  @ApiPropertyOptional({ type: DecryptError })
  error?: DecryptError;
}

export class DecryptBatchResponse {
  @ApiProperty()
  decoded!: number;
  @ApiProperty()
  failed!: number;
  @ApiProperty({ type: [DecryptResult], description: 'one result per item, in request order' })
  results!: DecryptResult[];
}
