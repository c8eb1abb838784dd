import {
  BadRequestException,
  ConflictException,
  Controller,
  Headers,
  HttpCode,
  Inject,
  PayloadTooLargeException,
  Post,
  Query,
  Req,
  Res,
  UnsupportedMediaTypeException,
  UseGuards,
} from '@nestjs/common';
import { Vw1871StreamParser, type Vw1871Item } from '@hes/wmbus';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import type { CollectorSettings } from '../collector-settings';
import { IngestPipeline, type IngestSource, type ItemResult } from '../ingest/pipeline';
import type { ItemParse } from '../ingest/telegram-item';
import { COLLECTOR_SETTINGS, HANDHELD_UPLOAD_STORE } from '../tokens';
import { ApiKeyGuard, type AuthenticatedRequest } from './api-key.guard';
import { limitedStream, readBody } from './body';
import { batchResponse, parseJsonText, type BatchResponse } from './results';

/** The stored outcome of an upload, returned unchanged when the app retries it. */
export interface HandheldUploadResult extends BatchResponse {
  uploadId: string;
  scanSessionId?: string;
  batteryReports: Array<{ millivolts: number; offset: number }>;
  skippedBytes: number;
}

/** Idempotency record per upload id (table handheld_uploads). */
export interface HandheldUploadStore {
  find(uploadId: string): Promise<HandheldUploadResult | undefined>;
  /** Stores the result unless one exists; returns the stored one (the first writer wins). */
  save(uploadId: string, itemCount: number, result: HandheldUploadResult): Promise<HandheldUploadResult>;
}

const uploadId = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,128}$/, 'must be 1-128 characters of A-Z a-z 0-9 . _ : -');
const latitude = z.coerce.number().min(-90).max(90);
const longitude = z.coerce.number().min(-180).max(180);
const scanSessionId = z.string().min(1).max(128);

const metadataSchema = z
  .object({
    uploadId,
    scanSessionId: scanSessionId.optional(),
    lat: latitude.optional(),
    lon: longitude.optional(),
  })
  .refine((m) => (m.lat === undefined) === (m.lon === undefined), {
    message: 'give both lat and lon',
    path: ['lat'],
  });

const jsonUploadSchema = z.object({
  uploadId: uploadId.optional(),
  scanSessionId: scanSessionId.optional(),
  lat: latitude.optional(),
  lon: longitude.optional(),
  telegrams: z.array(z.unknown()),
});

type UploadMetadata = z.infer<typeof metadataSchema>;

/**
 * Walk-by uploads from the handheld app: the VW1871 reader's raw byte stream (octet-stream; metadata
 * in the Idempotency-Key header and scanSessionId/lat/lon query parameters) or JSON
 * `{uploadId?, scanSessionId?, lat?, lon?, telegrams: [...]}`. Idempotent per upload id: a retry
 * after a lost response gets the stored result and produces nothing again.
 */
@Controller('api/v1/handheld')
@UseGuards(ApiKeyGuard)
export class HandheldUploadsController {
  /** Upload ids being processed by this instance: a concurrent retry must not produce a second time. */
  private readonly inProgress = new Set<string>();

  constructor(
    @Inject(IngestPipeline) private readonly pipeline: IngestPipeline,
    @Inject(HANDHELD_UPLOAD_STORE) private readonly store: HandheldUploadStore,
    @Inject(COLLECTOR_SETTINGS) private readonly settings: CollectorSettings,
  ) {}

  @Post('uploads')
  @HttpCode(200)
  async upload(
    @Req() request: AuthenticatedRequest,
    @Res({ passthrough: true }) response: ServerResponse,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Query() query: Record<string, string | undefined>,
  ): Promise<HandheldUploadResult> {
    const type = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type === 'application/octet-stream') {
      const metadata = this.metadata({ ...query, uploadId: idempotencyKey ?? query.uploadId });
      return this.once(metadata, response, () => this.ingestStream(request, metadata));
    }
    if (type === 'application/json') {
      const body = await readBody(request, this.settings.maxJsonBodyBytes);
      const json = parseJsonText(body.toString('utf8'));
      if (!json.ok) throw new BadRequestException(json.message);
      const parsed = jsonUploadSchema.safeParse(json.value);
      if (!parsed.success) throw new BadRequestException(describe(parsed.error.issues));
      const { telegrams, ...fields } = parsed.data;
      if (telegrams.length > this.settings.maxItemsPerRequest) {
        throw new PayloadTooLargeException(
          `at most ${this.settings.maxItemsPerRequest} telegrams per upload`,
        );
      }
      const metadata = this.metadata({ ...fields, uploadId: idempotencyKey ?? fields.uploadId });
      return this.once(metadata, response, async () => {
        const results = await this.pipeline.ingestItems(telegrams, this.source(request, metadata));
        return { items: telegrams.length, results, batteryReports: [], skippedBytes: 0 };
      });
    }
    throw new UnsupportedMediaTypeException(
      'use application/octet-stream (VW1871 stream) or application/json',
    );
  }

  private metadata(input: Record<string, unknown>): UploadMetadata {
    if (input.uploadId === undefined) {
      throw new BadRequestException('uploadId: required (Idempotency-Key header or uploadId field)');
    }
    const parsed = metadataSchema.safeParse(input);
    if (!parsed.success) throw new BadRequestException(describe(parsed.error.issues));
    return parsed.data;
  }

  private source(request: AuthenticatedRequest, metadata: UploadMetadata): IngestSource {
    return {
      kind: 'handheld',
      id: request.deviceId,
      uploadId: metadata.uploadId,
      ...(request.societyId !== undefined ? { societyId: request.societyId } : {}),
      ...(metadata.scanSessionId !== undefined ? { scanSessionId: metadata.scanSessionId } : {}),
      ...(metadata.lat !== undefined && metadata.lon !== undefined
        ? { gps: { latitude: metadata.lat, longitude: metadata.lon } }
        : {}),
    };
  }

  private async once(
    metadata: UploadMetadata,
    response: ServerResponse,
    ingest: () => Promise<{
      items: number;
      results: ItemResult[];
      batteryReports: HandheldUploadResult['batteryReports'];
      skippedBytes: number;
    }>,
  ): Promise<HandheldUploadResult> {
    const { uploadId } = metadata;
    const previous = await this.store.find(uploadId);
    if (previous) {
      response.setHeader('Idempotent-Replayed', 'true');
      return previous;
    }
    if (this.inProgress.has(uploadId)) {
      response.setHeader('Retry-After', String(this.settings.retryAfterOverloadedSeconds));
      throw new ConflictException(`upload ${uploadId} is being processed; retry to get its result`);
    }
    this.inProgress.add(uploadId);
    try {
      const outcome = await ingest();
      const result: HandheldUploadResult = {
        uploadId,
        ...(metadata.scanSessionId !== undefined ? { scanSessionId: metadata.scanSessionId } : {}),
        ...batchResponse(outcome.results),
        batteryReports: outcome.batteryReports,
        skippedBytes: outcome.skippedBytes,
      };
      return await this.store.save(uploadId, outcome.items, result);
    } finally {
      this.inProgress.delete(uploadId);
    }
  }

  /** Parses the reader stream as it arrives and produces its telegrams group by group. */
  private async ingestStream(request: AuthenticatedRequest, metadata: UploadMetadata) {
    const source = this.source(request, metadata);
    const parser = new Vw1871StreamParser();
    const results: ItemResult[] = [];
    const batteryReports: HandheldUploadResult['batteryReports'] = [];
    let skippedBytes = 0;
    let group: ItemParse[] = [];
    const flush = async () => {
      if (group.length === 0) return;
      const pending = group;
      group = [];
      results.push(...(await this.pipeline.ingestParsed(pending, source, results.length)));
    };
    const take = (items: Vw1871Item[]) => {
      for (const item of items) {
        if (item.kind === 'telegram')
          group.push({ ok: true, item: { telegram: item.telegram, rssi: item.rssiDbm } });
        else if (item.kind === 'battery')
          batteryReports.push({ millivolts: item.millivolts, offset: item.offset });
        else skippedBytes += item.bytes;
      }
    };
    for await (const chunk of limitedStream(request, this.settings.maxUploadBytes)) {
      take(parser.push(chunk));
      if (group.length >= this.settings.streamGroupSize) await flush();
    }
    take(parser.end());
    await flush();
    return { items: results.length, results, batteryReports, skippedBytes };
  }
}

function describe(issues: z.core.$ZodIssue[]): string {
  const issue = issues[0];
  const field = issue.path.map(String).join('.');
  return field ? `${field}: ${issue.message}` : issue.message;
}
