import {
  BadRequestException,
  Controller,
  HttpCode,
  Inject,
  PayloadTooLargeException,
  Post,
  Req,
  UnsupportedMediaTypeException,
  UseGuards,
} from '@nestjs/common';
import type { CollectorSettings } from '../collector-settings';
import { IngestPipeline, type IngestSource, type ItemResult } from '../ingest/pipeline';
import { ndjsonGroups } from '../ingest/ndjson';
import type { ItemParse } from '../ingest/telegram-item';
import { COLLECTOR_SETTINGS } from '../tokens';
import { ApiKeyGuard, type AuthenticatedRequest } from './api-key.guard';
import { limitedStream, readBody } from './body';
import { batchResponse, parseJsonText, rejectedItem, type BatchResponse } from './results';

/**
 * Gateways post raw telegrams here: a JSON array (or `{items: [...]}`), or NDJSON streamed in one
 * request, which is read and produced in groups so memory stays bounded however long the stream is.
 * 200 means every `accepted` item is durably in Kafka; 429/503 (with Retry-After) mean retry the batch.
 */
@Controller('api/v1/gateways')
@UseGuards(ApiKeyGuard)
export class GatewayTelegramsController {
  constructor(
    @Inject(IngestPipeline) private readonly pipeline: IngestPipeline,
    @Inject(COLLECTOR_SETTINGS) private readonly settings: CollectorSettings,
  ) {}

  @Post('telegrams')
  @HttpCode(200)
  async postTelegrams(@Req() request: AuthenticatedRequest): Promise<BatchResponse> {
    const source: IngestSource = {
      kind: 'gateway',
      id: request.deviceId,
      gatewayIdMustMatch: true,
      ...(request.societyId !== undefined ? { societyId: request.societyId } : {}),
    };
    const type = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type === 'application/x-ndjson' || type === 'application/ndjson') {
      return batchResponse(await this.ingestNdjson(request, source));
    }
    if (type === 'application/json') {
      const items = await this.readJsonItems(request);
      return batchResponse(await this.pipeline.ingestItems(items, source));
    }
    throw new UnsupportedMediaTypeException('use application/json or application/x-ndjson');
  }

  private async readJsonItems(request: AuthenticatedRequest): Promise<unknown[]> {
    const body = await readBody(request, this.settings.maxJsonBodyBytes);
    const parsed = parseJsonText(body.toString('utf8'));
    if (!parsed.ok) throw new BadRequestException(parsed.message);
    const value = parsed.value;
    const items = Array.isArray(value)
      ? value
      : typeof value === 'object' && value !== null && Array.isArray((value as { items?: unknown }).items)
        ? (value as { items: unknown[] }).items
        : undefined;
    if (!items) throw new BadRequestException('body must be a JSON array of items or {"items": [...]}');
    if (items.length > this.settings.maxItemsPerRequest) {
      throw new PayloadTooLargeException(`at most ${this.settings.maxItemsPerRequest} items per request`);
    }
    return items;
  }

  private async ingestNdjson(request: AuthenticatedRequest, source: IngestSource): Promise<ItemResult[]> {
    const results: ItemResult[] = [];
    const groups = ndjsonGroups(limitedStream(request, this.settings.maxUploadBytes), {
      maxLineBytes: this.settings.ndjsonMaxLineBytes,
      groupSize: this.settings.streamGroupSize,
    });
    for await (const group of groups) {
      if (results.length + group.length > this.settings.maxItemsPerRequest) {
        throw new PayloadTooLargeException(`at most ${this.settings.maxItemsPerRequest} items per request`);
      }
      const parsed = group.map((entry): ItemParse => {
        if (entry.kind === 'oversized') {
          return rejectedItem(
            'LINE_TOO_LONG',
            `line of ${entry.bytes} bytes exceeds ${this.settings.ndjsonMaxLineBytes}`,
          );
        }
        const json = parseJsonText(entry.text);
        return json.ok ? this.pipeline.parseItem(json.value) : rejectedItem('BAD_JSON', json.message);
      });
      results.push(...(await this.pipeline.ingestParsed(parsed, source, results.length)));
    }
    return results;
  }
}
