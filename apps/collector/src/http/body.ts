import { PayloadTooLargeException } from '@nestjs/common';

/** Reads a whole request body, refusing (413) as soon as it exceeds `limit` instead of after buffering it. */
export async function readBody(stream: AsyncIterable<Buffer | string>, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += bytes.length;
    if (size > limit) throw new PayloadTooLargeException(`request body exceeds ${limit} bytes`);
    chunks.push(bytes);
  }
  return Buffer.concat(chunks, size);
}

/** Limits a streamed body without buffering it: the iteration throws 413 once `limit` bytes have passed. */
export async function* limitedStream(
  stream: AsyncIterable<Buffer | string>,
  limit: number,
): AsyncGenerator<Buffer> {
  let size = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += bytes.length;
    if (size > limit) throw new PayloadTooLargeException(`request body exceeds ${limit} bytes`);
    yield bytes;
  }
}
