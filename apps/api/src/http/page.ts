import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { decodeCursor, encodeCursor } from './page-cursor';

export const DEFAULT_PAGE_LIMIT = 100;

/** The query of every cursor-paginated list; list queries with filters extend it. */
export class PageQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: DEFAULT_PAGE_LIMIT })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  cursor?: string;
}

/** The response of every cursor-paginated list; each page class adds its typed `items`. */
export abstract class CursorPage {
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'pass as cursor for the next page; null at the end',
  })
  nextCursor!: string | null;
}

export function pageLimit(query: PageQuery): number {
  return query.limit ?? DEFAULT_PAGE_LIMIT;
}

/** The row position the query's cursor names, or undefined on the first page. */
export function pageAfter<K extends string>(
  query: PageQuery,
  fields: Record<K, RegExp>,
): Record<K, string> | undefined {
  return query.cursor === undefined ? undefined : decodeCursor(query.cursor, fields);
}

/**
 * A page from rows fetched with `limit + 1`: the extra row is never returned, it only tells that another page
 * follows, whose cursor names the position of this page's last row.
 */
export function cursorPage<Row, Item>(
  rows: readonly Row[],
  limit: number,
  toItem: (row: Row) => Item,
  positionOf: (last: Row) => Record<string, string>,
): { items: Item[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  return {
    items: page.map((row) => toItem(row)),
    nextCursor: rows.length > limit ? encodeCursor(positionOf(page[page.length - 1])) : null,
  };
}
