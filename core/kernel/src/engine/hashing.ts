import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { PayloadTooLargeError, type Digests } from '@registry-core/api';

/**
 * A pass-through that computes md5, sha1, sha256 and sha512 and the size of what flows
 * through it, and fails the stream as soon as `maxBytes` is passed.
 */
export class HashingStream extends Transform {
  private readonly hashes: Record<keyof Digests, Hash> = {
    md5: createHash('md5'),
    sha1: createHash('sha1'),
    sha256: createHash('sha256'),
    sha512: createHash('sha512'),
  };
  private bytes = 0;
  private result: Digests | undefined;

  constructor(private readonly maxBytes = Number.POSITIVE_INFINITY) {
    super();
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
    this.result = {
      md5: this.hashes.md5.digest('hex'),
      sha1: this.hashes.sha1.digest('hex'),
      sha256: this.hashes.sha256.digest('hex'),
      sha512: this.hashes.sha512.digest('hex'),
    };
    callback();
  }

  get size(): number {
    return this.bytes;
  }

  /** Available once the stream has ended. */
  get digests(): Digests {
    if (!this.result) throw new Error('digests read before the stream ended');
    return this.result;
  }
}
