import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { PayloadTooLargeError, type DigestAlgorithm, type KnownDigests } from '@registry-core/api';

export type { KnownDigests };

export const ALL_DIGESTS: readonly DigestAlgorithm[] = ['md5', 'sha1', 'sha256', 'sha512'];

/**
 * A pass-through that computes sha256 (and the other `algorithms` asked for) and the size
 * of what flows through it, and fails the stream as soon as `maxBytes` is passed. Hashing
 * is most of the CPU an upload costs: only what a format needs is computed.
 */
export class HashingStream extends Transform {
  private readonly hashes: Partial<Record<DigestAlgorithm, Hash>> = {};
  private bytes = 0;
  private result: KnownDigests | undefined;

  constructor(
    private readonly maxBytes = Number.POSITIVE_INFINITY,
    algorithms: Iterable<DigestAlgorithm> = ALL_DIGESTS,
  ) {
    super();
    for (const algorithm of new Set<DigestAlgorithm>(['sha256', ...algorithms])) this.hashes[algorithm] = createHash(algorithm);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      callback(new PayloadTooLargeError(`content is larger than the limit of ${this.maxBytes} bytes`));
      return;
    }
    for (const h of Object.values(this.hashes)) h.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const result: Partial<Record<DigestAlgorithm, string>> = {};
    for (const [algorithm, hash] of Object.entries(this.hashes) as [DigestAlgorithm, Hash][]) result[algorithm] = hash.digest('hex');
    this.result = result as KnownDigests;
    callback();
  }

  get size(): number {
    return this.bytes;
  }

  /** Available once the stream has ended. */
  get digests(): KnownDigests {
    if (!this.result) throw new Error('digests read before the stream ended');
    return this.result;
  }
}
