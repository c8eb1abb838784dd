import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, IsUUID, Length, ValidateIf } from 'class-validator';
import type { Flat, MeterPlacement, Society, Tower } from './structure.repository';

export class CreateSocietyRequest {
  @ApiProperty({ example: 'Green Acres Housing Society' })
  @IsString()
  @Length(1, 200)
  name!: string;

  @ApiPropertyOptional({ nullable: true })
  @IsOptional()
  @IsString()
  @Length(0, 500)
  address?: string | null;
}

export class UpdateSocietyRequest {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(1, 200)
  name?: string;

  @ApiPropertyOptional({ nullable: true })
  @ValidateIf((_object, value) => value !== null && value !== undefined)
  @IsString()
  @Length(0, 500)
  address?: string | null;
}

export class NameRequest {
  @ApiProperty({ example: 'Tower A' })
  @IsString()
  @Length(1, 200)
  name!: string;
}

export class PlacementRequest {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  societyId!: string;

  @ApiPropertyOptional({
    format: 'uuid',
    nullable: true,
    description: 'null or absent: in the society, not in a flat',
  })
  @ValidateIf((_object, value) => value !== null && value !== undefined)
  @IsUUID()
  flatId?: string | null;
}

export class SocietyResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;
  @ApiProperty()
  name!: string;
  @ApiProperty({ nullable: true, type: String })
  address!: string | null;
  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;

  static of(society: Society): SocietyResponse {
    return {
      id: society.id,
      name: society.name,
      address: society.address,
      createdAt: society.createdAt.toISOString(),
      updatedAt: society.updatedAt.toISOString(),
    };
  }
}

export class TowerResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;
  @ApiProperty({ format: 'uuid' })
  societyId!: string;
  @ApiProperty()
  name!: string;
  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  static of(tower: Tower): TowerResponse {
    return {
      id: tower.id,
      societyId: tower.societyId,
      name: tower.name,
      createdAt: tower.createdAt.toISOString(),
    };
  }
}

export class FlatResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;
  @ApiProperty({ format: 'uuid' })
  societyId!: string;
  @ApiProperty({ format: 'uuid' })
  towerId!: string;
  @ApiProperty()
  name!: string;
  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  static of(flat: Flat): FlatResponse {
    return {
      id: flat.id,
      societyId: flat.societyId,
      towerId: flat.towerId,
      name: flat.name,
      createdAt: flat.createdAt.toISOString(),
    };
  }
}

export class FlatNode {
  @ApiProperty({ format: 'uuid' })
  id!: string;
  @ApiProperty()
  name!: string;
  @ApiProperty()
  meterCount!: number;
}

export class TowerNode {
  @ApiProperty({ format: 'uuid' })
  id!: string;
  @ApiProperty()
  name!: string;
  @ApiProperty({ description: 'meters placed in the flats of this tower' })
  meterCount!: number;
  @ApiProperty({ type: [FlatNode] })
  flats!: FlatNode[];
}

export class SocietyStructureResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;
  @ApiProperty()
  name!: string;
  @ApiProperty({ description: 'all meters of the society' })
  meterCount!: number;
  @ApiProperty({ description: 'meters of the society not placed in a flat' })
  unplacedMeterCount!: number;
  @ApiProperty({ type: [TowerNode] })
  towers!: TowerNode[];
}

export class PlacementResponse {
  @ApiProperty({ example: '12345678' })
  meterId!: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String })
  societyId!: string | null;
  @ApiProperty({ format: 'uuid', nullable: true, type: String })
  towerId!: string | null;
  @ApiProperty({ format: 'uuid', nullable: true, type: String })
  flatId!: string | null;

  static of(placement: MeterPlacement): PlacementResponse {
    return { ...placement };
  }
}
