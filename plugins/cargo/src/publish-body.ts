import { Readable } from 'node:stream';
import { BadRequestError, PayloadTooLargeError } from '@registry-core/api';

/**
 * Reads `cargo publish`'s body, `u32 LE json length ‖ json ‖ u32 LE crate length ‖ crate`,
 * from the request stream in order: the small JSON part into memory, the crate as a stream
 * of exactly its announced length. Lengths that lie (more or fewer bytes than announced)
 * are errors.
 */
export class FramedBody {
  private readonly chunks: AsyncIterator<Buffer>;
  private pending: Buffer = Buffer.alloc(0);

  constructor(source: Readable) {
    this.chunks = (source as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  /** The next `n` bytes; fails when the body ends before. */
  async read(n: number, what: string): Promise<Buffer> {
    const parts: Buffer[] = [this.pending];
    let have = this.pending.length;
    while (have < n) {
      const next = await this.chunks.next();
      if (next.done) throw new BadRequestError(`the publish body ended inside ${what} (${have} of ${n} bytes)`);
      parts.push(next.value);
      have += next.value.length;
    }
    const all = parts.length === 1 ? parts[0]! : Buffer.concat(parts, have);
    this.pending = all.subarray(n);
    return all.subarray(0, n);
  }

  /** A little-endian u32 length, refused above `max`. */
  async length(what: string, max: number, tooLarge: (n: number) => Error = (n) => new BadRequestError(`${what} of ${n} bytes is over the limit of ${max}`)): Promise<number> {
    const n = (await this.read(4, `the length of ${what}`)).readUInt32LE(0);
    if (n > max) throw tooLarge(n);
    return n;
  }

  /** The next `n` bytes as a stream; it fails if the body ends before them. */
  stream(n: number, what: string): Readable {
    const self = this;
    return Readable.from(
      (async function* () {
        let left = n;
        if (self.pending.length > 0) {
          const take = self.pending.subarray(0, left);
          self.pending = self.pending.subarray(take.length);
          left -= take.length;
          if (take.length > 0) yield take;
        }
        while (left > 0) {
          const next = await self.chunks.next();
          if (next.done) throw new BadRequestError(`the publish body ended inside ${what} (${n - left} of ${n} bytes)`);
          const chunk = next.value;
          if (chunk.length <= left) {
            left -= chunk.length;
            yield chunk;
          } else {
            self.pending = chunk.subarray(left);
            yield chunk.subarray(0, left);
            left = 0;
          }
        }
      })(),
      { objectMode: false },
    );
  }

  /** Refuse a body with bytes after its last announced part. */
  async end(): Promise<void> {
    if (this.pending.length > 0) throw new BadRequestError(`the publish body has ${this.pending.length}+ bytes after the crate: its lengths are wrong`);
    const next = await this.chunks.next();
    if (!next.done) throw new BadRequestError('the publish body has bytes after the crate: its lengths are wrong');
  }
}

/** Largest JSON part of a publish (it carries the README's text). */
export const MAX_PUBLISH_JSON = 16 * 1024 * 1024;

/** The publish JSON of a body, read once and kept for the other readers of the same request (a group, then its member). */
const heads = new WeakMap<object, Promise<{ json: unknown; body: FramedBody }>>();

export function publishHead(stream: unknown): Promise<{ json: unknown; body: FramedBody }> {
  if (!(stream instanceof Readable)) return Promise.reject(new BadRequestError('cargo publish sends a body'));
  let head = heads.get(stream);
  if (!head) {
    head = (async () => {
      const body = new FramedBody(stream);
      const jsonLength = await body.length('the metadata JSON', MAX_PUBLISH_JSON, (n) => new PayloadTooLargeError(`the publish metadata of ${n} bytes is over the limit of ${MAX_PUBLISH_JSON}`));
      const bytes = await body.read(jsonLength, 'the metadata JSON');
      let json: unknown;
      try {
        json = JSON.parse(bytes.toString('utf8'));
      } catch {
        throw new BadRequestError('the publish metadata is not valid JSON');
      }
      return { json, body };
    })();
    heads.set(stream, head);
  }
  return head;
}
