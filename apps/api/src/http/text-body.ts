import { PayloadTooLargeException } from '@nestjs/common';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** Media types of the CSV bodies the imports take besides multipart forms. */
const TEXT_BODY_TYPES = ['text/csv', 'text/plain'];

/**
 * Accepts text/csv and text/plain bodies without reading them: the body stays in the request stream for the
 * import routes, which read it after authentication under their own size limit (readTextBody). Fastify's own
 * text/plain parser would buffer any such body up to the JSON limit before a route's guards ran; other routes
 * get no body, and the unread bytes are discarded once the answer is sent.
 */
export function acceptTextBodies(fastify: FastifyInstance): void {
  fastify.removeContentTypeParser('text/plain');
  fastify.addContentTypeParser(TEXT_BODY_TYPES, (_request, _payload, done) => done(null, undefined));
}

/**
 * A text/csv (or text/plain) request body as bytes, read from the request stream; undefined for any other
 * content type. Stops reading, with a 413, past `maxBytes`.
 */
export async function readTextBody(request: FastifyRequest, maxBytes: number): Promise<Buffer | undefined> {
  const mediaType = request.headers['content-type']?.split(';')[0].trim().toLowerCase();
  if (mediaType === undefined || !TEXT_BODY_TYPES.includes(mediaType)) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request.raw as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new PayloadTooLargeException(`the file is larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
