import type { IncomingMessage } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { BadRequestError, PayloadTooLargeError, type BodySpec } from '@registry-core/api';
import { readLimited } from '../engine/read-limited.js';
import { assertJsonDepth, parseJsonSpilling } from './json-spill.js';
import { parseMultipart } from './multipart.js';

/** A parsed body and what to remove once the handler is done with it. */
export interface RequestBody {
  readonly value: unknown;
  readonly cleanup?: () => Promise<void>;
}

/** Parse the request body as the route's spec says, enforcing its limit. */
export async function readRequestBody(req: IncomingMessage, spec: BodySpec | undefined, defaultLimit: number, tmpDir: string, defaultUploadLimit = defaultLimit): Promise<RequestBody> {
  if (!spec || spec.kind === 'none') return { value: undefined };
  const limit = spec.limit ?? (spec.kind === 'multipart' ? defaultUploadLimit + 1024 * 1024 : defaultLimit);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    throw new PayloadTooLargeError(`request body of ${declared} bytes is over the limit of ${limit} bytes`);
  }
  if (spec.kind === 'multipart') {
    return parseMultipart(req, {
      limit: spec.limit ?? defaultUploadLimit + 1024 * 1024,
      maxFields: spec.maxFields ?? 1000,
      maxFieldBytes: spec.maxFieldBytes ?? 1024 * 1024,
      tmpDir,
    });
  }
  if (spec.kind === 'stream') {
    const limited = new LimitStream(limit);
    req.on('error', (error) => limited.destroy(error));
    return { value: req.pipe(limited) };
  }
  if (spec.spillStringsOver !== undefined) {
    return parseJsonSpilling(req, { limit, threshold: spec.spillStringsOver, tmpDir });
  }
  const bytes = await readLimited(req, limit, () => new PayloadTooLargeError(`request body is over the limit of ${limit} bytes`), () => req.resume());
  if (bytes.length === 0) return { value: undefined };
  assertJsonDepth(bytes);
  try {
    return { value: JSON.parse(bytes.toString('utf8')) };
  } catch {
    throw new BadRequestError('request body is not valid JSON');
  }
}

/** Cuts a stream that goes past `limit` bytes with a 413 error. */
export class LimitStream extends Transform {
  private seen = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) callback(new PayloadTooLargeError(`request body is over the limit of ${this.limit} bytes`));
    else callback(null, chunk);
  }
}
