import { PayloadTooLargeException } from '@nestjs/common';
import type { Request } from 'express';

/**
 * A text/csv (or text/plain) request body as bytes, read from the request stream because the app only parses
 * JSON bodies; undefined for any other content type. Stops reading, with a 413, past `maxBytes`.
 */
export async function readTextBody(request: Request, maxBytes: number): Promise<Buffer | undefined> {
  if (!request.is(['text/csv', 'text/plain'])) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new PayloadTooLargeException(`the file is larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
