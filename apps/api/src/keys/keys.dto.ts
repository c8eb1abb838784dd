import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, Matches } from 'class-validator';
import type { MeterKeyInfo } from './meter-key-vault';

export class SetMeterKeyRequest {
  @ApiProperty({
    description: "the meter's AES-128 key as 32 hex digits; stored encrypted, never returned",
    example: '000102030405060708090A0B0C0D0E0F',
  })
  @IsString()
  @Matches(/^[0-9A-Fa-f]{32}$/, { message: 'must be 32 hex digits (a 16-byte AES-128 key)' })
  key!: string;
}

export class MeterKeyResponse {
  @ApiProperty({ example: '12345678' })
  meterId!: string;
  @ApiProperty({
    example: '3f2a9c0d11e4b7a5',
    description:
      'HMAC of the key under a server secret (16 hex digits): compares keys without revealing them',
  })
  fingerprint!: string;
  @ApiProperty({ description: '1 when first set, +1 on every rotation' })
  version!: number;
  @ApiProperty({ format: 'date-time' })
  setAt!: string;

  static of(meterId: string, info: MeterKeyInfo): MeterKeyResponse {
    return {
      meterId,
      fingerprint: info.fingerprint,
      version: info.version,
      setAt: info.setAt.toISOString(),
    };
  }
}

export class KeyImportError {
  @ApiProperty({ example: 'key', description: 'the CSV column or KEM element the problem is in' })
  column!: string;
  @ApiProperty({
    example: 'invalid_key',
    enum: ['invalid_meter_id', 'invalid_key', 'unknown_meter', 'forbidden', 'duplicate'],
  })
  code!: string;
  @ApiProperty({ example: 'must be 32 hex digits (a 16-byte AES-128 key)' })
  message!: string;
}

export class KeyImportRow {
  @ApiProperty({
    description:
      'CSV: the line number in the file (the header is line 1); KEM: the position of the meter (1-based)',
  })
  row!: number;
  @ApiProperty({ nullable: true, type: String, example: '12345678' })
  meterId!: string | null;
  @ApiProperty({
    enum: ['imported', 'valid', 'failed'],
    description: 'valid: would be imported (dry run)',
  })
  status!: 'imported' | 'valid' | 'failed';
  @ApiPropertyOptional({ description: 'fingerprint of the imported (or, in a dry run, the given) key' })
  fingerprint?: string;
  @ApiPropertyOptional({ description: 'key version after the import' })
  version?: number;
  @ApiProperty({ type: [KeyImportError] })
  errors!: KeyImportError[];
}

export class KeyImportResponse {
  @ApiProperty()
  dryRun!: boolean;
  @ApiProperty({ description: 'rows (meters) read from the file' })
  total!: number;
  @ApiProperty({ description: 'keys stored (0 in a dry run)' })
  imported!: number;
  @ApiProperty({ description: 'rows that would be stored (dry run) or were stored' })
  valid!: number;
  @ApiProperty()
  failed!: number;
  @ApiProperty({ type: [KeyImportRow] })
  rows!: KeyImportRow[];
}
