import { EventEmitter } from 'node:events';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UpstreamError, isRegistryError, type Asset, type AssetKind, type IncomingAsset } from '@registry-core/api';

/** Largest piece a reader reads from the spool at once. */
const READ_CHUNK = 256 * 1024;
/**
 * Below this many bytes an answer waits until the content is stored: a small artifact
 * costs a client a millisecond more, and a failed download or verification is still a
 * clean error answer rather than a body cut short. Larger ones stream at once.
 */
export const STREAM_AFTER_BYTES = 1024 * 1024;

type State = 'receiving' | 'received' | 'stored' | 'failed';

/**
 * The streaming tee: an upstream body written once to a spool file, read by any number of
 * followers while it arrives. One follower (`raw`) feeds the blob store, which hashes,
 * verifies and stores it; client followers (`held`) get every byte but the last until the
 * content is stored, so a body that fails verification never reaches a client whole.
 * Clients read the spool at their own pace: a slow or vanished client never slows or
 * stops the download. The spool is unlinked when the download settles and closed when
 * its last reader is done.
 */
export class IncomingContent implements IncomingAsset {
  readonly stored: Promise<Asset>;
  private state: State = 'receiving';
  private failure: Error | undefined;
  private written = 0;
  private readers = 0;
  private closed = false;
  private unlinked = false;
  private readonly changes = new EventEmitter();
  private resolveStored!: (asset: Asset) => void;
  private rejectStored!: (error: Error) => void;

  private constructor(
    readonly path: string,
    readonly kind: AssetKind,
    readonly contentType: string,
    readonly size: number | undefined,
    private readonly file: FileHandle,
    private readonly spoolPath: string,
  ) {
    this.changes.setMaxListeners(0);
    this.stored = new Promise<Asset>((resolve, reject) => {
      this.resolveStored = resolve;
      this.rejectStored = reject;
    });
    // A failed download whose promise nobody awaits must not crash the process.
    this.stored.catch(() => undefined);
  }

  /** Start spooling `body`; resolves as soon as the spool file exists. */
  static async start(
    spoolDir: string,
    body: Readable,
    meta: { path: string; kind: AssetKind; contentType: string; size?: number },
  ): Promise<IncomingContent> {
    const spoolPath = path.join(spoolDir, `incoming-${randomUUID()}`);
    let file: FileHandle;
    try {
      file = await open(spoolPath, 'w+', 0o600);
    } catch (error) {
      body.destroy();
      throw error;
    }
    const incoming = new IncomingContent(meta.path, meta.kind, meta.contentType, meta.size, file, spoolPath);
    void incoming.spool(body);
    return incoming;
  }

  private async spool(body: Readable): Promise<void> {
    // A Writable behind pipe(): the body may already be flowing (the upstream client
    // watches it for stalls), which an async iterator would not see.
    const sink = new Writable({
      highWaterMark: READ_CHUNK,
      write: (chunk: Buffer, _encoding, callback) => {
        if (this.state !== 'receiving') {
          callback(new Error('download abandoned'));
          return;
        }
        void this.writeAll(chunk).then(() => {
          this.changes.emit('change');
          callback();
        }, callback);
      },
    });
    try {
      await pipeline(body, sink);
      if (this.state !== 'receiving') return;
      if (this.size !== undefined && this.written !== this.size) {
        throw new Error(`the upstream sent ${this.written} bytes of the ${this.size} it announced`);
      }
      this.state = 'received';
      this.changes.emit('change');
    } catch (error) {
      this.fail(error as Error);
      body.destroy();
    }
  }

  private async writeAll(buffer: Buffer): Promise<void> {
    let offset = 0;
    while (offset < buffer.length) {
      const { bytesWritten } = await this.file.write(buffer, offset, buffer.length - offset, this.written);
      offset += bytesWritten;
      this.written += bytesWritten;
    }
  }

  /** The blob store has the verified content: release every reader's last bytes. */
  complete(asset: Asset): void {
    if (this.state === 'failed' || this.state === 'stored') return;
    this.state = 'stored';
    this.resolveStored(asset);
    this.changes.emit('change');
    this.release();
  }

  /** The download or its verification failed: readers error, nothing was stored. */
  fail(error: Error): void {
    if (this.state === 'failed' || this.state === 'stored') return;
    this.state = 'failed';
    this.failure = isRegistryError(error) ? error : new UpstreamError(`download of ${this.path} failed: ${error.message}`, { cause: error });
    this.rejectStored(this.failure);
    this.changes.emit('change');
    this.release();
  }

  ready(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.state === 'failed') reject(this.failure);
        else if (this.state === 'stored' || (this.written >= STREAM_AFTER_BYTES && (this.size === undefined || this.size > this.written))) resolve();
        else return;
        this.changes.off('change', check);
      };
      this.changes.on('change', check);
      check();
    });
  }

  /** The download or its verification failed (a new request must start another). */
  get failed(): boolean {
    return this.state === 'failed';
  }

  get settled(): boolean {
    return this.state === 'stored' || this.state === 'failed';
  }

  /** A client's reader: follows the download, its last byte held until the content is stored. */
  open(): Readable {
    return this.reader(true);
  }

  /** The blob store's reader: every byte as written, ending when the upstream body ended. */
  openRaw(): Readable {
    return this.reader(false);
  }

  private reader(held: boolean): Readable {
    if (this.closed) {
      // The spool is gone: the content is stored (or failed) by now.
      if (this.state === 'stored') return deferred(this.stored.then((asset) => asset.open()));
      return Readable.from((async function* (failure: Error | undefined) {
        throw failure ?? new Error('the download failed');
      })(this.failure));
    }
    this.readers++;
    let position = 0;
    let waiting: (() => void) | undefined;
    const onChange = () => {
      const wake = waiting;
      waiting = undefined;
      wake?.();
    };
    this.changes.on('change', onChange);
    const limit = (): { upTo: number; done: boolean; error?: Error } => {
      if (this.state === 'failed') return { upTo: position, done: false, error: this.failure };
      if (this.state === 'stored') return { upTo: this.written, done: true };
      if (!held) return { upTo: this.written, done: this.state === 'received' };
      // Held: with a known size, never the last byte; without one, everything but the end.
      const upTo = this.size !== undefined ? Math.min(this.written, this.size - 1) : this.written;
      return { upTo, done: false };
    };
    const stream = new Readable({
      highWaterMark: READ_CHUNK,
      read: () => {
        void (async () => {
          for (;;) {
            const { upTo, done, error } = limit();
            if (error) {
              stream.destroy(error);
              return;
            }
            if (position < upTo) {
              const length = Math.min(READ_CHUNK, upTo - position);
              const buffer = Buffer.allocUnsafe(length);
              const { bytesRead } = await this.file.read(buffer, 0, length, position);
              if (stream.destroyed) return;
              position += bytesRead;
              stream.push(bytesRead === length ? buffer : buffer.subarray(0, bytesRead));
              return;
            }
            if (done) {
              stream.push(null);
              return;
            }
            await new Promise<void>((resolve) => (waiting = resolve));
            if (stream.destroyed) return;
          }
        })().catch((error: unknown) => stream.destroy(error as Error));
      },
      destroy: (error, callback) => {
        this.changes.off('change', onChange);
        onChange();
        this.readers--;
        this.release();
        callback(error);
      },
    });
    return stream;
  }

  /** Unlink the spool once settled; close it once the last reader is gone. */
  private release(): void {
    if (!this.settled || this.closed) return;
    if (!this.unlinked) {
      this.unlinked = true;
      void unlink(this.spoolPath).catch(() => undefined);
    }
    if (this.readers > 0) return;
    this.closed = true;
    void this.file.close().catch(() => undefined);
  }
}

/** A stream of `source` once it opens; destroying it closes the source. */
function deferred(source: Promise<Readable>): Readable {
  const out = new PassThrough();
  source.then(
    (opened) => pipeline(opened, out).catch(() => undefined),
    (error: unknown) => out.destroy(error as Error),
  );
  return out;
}
