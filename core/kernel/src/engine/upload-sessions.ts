import { randomBytes, randomUUID } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import {
  ConflictError,
  IntegrityError,
  NotFoundError,
  PayloadTooLargeError,
  RangeNotSatisfiableError,
  type Asset,
  type PutAssetOptions,
  type UploadSession,
  type UploadSessions,
} from '@registry-core/api';
import type { MetadataStore } from '../metadata/metadata-store.js';
import type { RepositoryAssetStore } from './asset-store.js';
import { blobKeyFor, compareDigests, type BlobStore } from './blob-store.js';
import { ALL_DIGESTS, type KnownDigests } from './hashing.js';

/** Document keys of upload sessions (in the repository's documents; formats never use a leading dot). */
export const UPLOAD_DOCUMENT_PREFIX = '.uploads/';
/** Storage keys of upload chunks: `uploads/<session>/<n>-<uuid>`. */
export const UPLOAD_STORAGE_PREFIX = 'uploads/';

const SESSION_ID = /^[A-Za-z0-9_-]{16,64}$/;

interface ChunkRecord {
  readonly key: string;
  readonly size: number;
  readonly digests: KnownDigests;
}

interface SessionDocument {
  readonly size: number;
  readonly createdAt: number;
  readonly attributes: Record<string, unknown>;
  readonly chunks: readonly ChunkRecord[];
  /** Set while a commit reads the chunks: appends are refused. */
  readonly committing?: number;
}

/**
 * Resumable uploads of one repository. The session is a document (so every node sees it,
 * and changes are serialised per session across nodes); each chunk is its own object in
 * the repository's storage, hashed on the way in. A one-chunk upload (what docker, podman
 * and skopeo send) is moved under its content key on commit; several chunks are streamed
 * into one new blob, verified, then dropped.
 */
export class KernelUploadSessions implements UploadSessions {
  constructor(
    private readonly repository: string,
    private readonly blobs: BlobStore,
    private readonly assets: RepositoryAssetStore,
    private readonly metadata: MetadataStore,
  ) {}

  private key(id: string): string {
    if (!SESSION_ID.test(id)) throw new NotFoundError(`upload ${id.slice(0, 80)} is unknown`, 'UPLOAD_UNKNOWN');
    return `${UPLOAD_DOCUMENT_PREFIX}${id}`;
  }

  private async read(id: string): Promise<SessionDocument | undefined> {
    const row = await this.metadata.getDocument(this.repository, this.key(id));
    return row ? (JSON.parse(row.value) as SessionDocument) : undefined;
  }

  private view(id: string, doc: SessionDocument, updatedAt: number): UploadSession {
    return { id, size: doc.size, createdAt: new Date(doc.createdAt), updatedAt: new Date(updatedAt), attributes: doc.attributes };
  }

  async create(attributes: Readonly<Record<string, unknown>> = {}): Promise<UploadSession> {
    const id = randomBytes(24).toString('base64url');
    const doc: SessionDocument = { size: 0, createdAt: Date.now(), attributes: { ...attributes }, chunks: [] };
    const row = await this.metadata.updateDocument(this.repository, this.key(id), async () => JSON.stringify(doc));
    return this.view(id, doc, row?.updatedAt ?? doc.createdAt);
  }

  async get(id: string): Promise<UploadSession | undefined> {
    if (!SESSION_ID.test(id)) return undefined;
    const row = await this.metadata.getDocument(this.repository, this.key(id));
    return row ? this.view(id, JSON.parse(row.value) as SessionDocument, row.updatedAt) : undefined;
  }

  async append(id: string, body: Readable, options: { offset?: number; maxBytes?: number } = {}): Promise<UploadSession> {
    const drain = () => {
      if (!body.destroyed) body.resume();
    };
    const doc = await this.read(id).catch((error: unknown) => {
      drain();
      throw error;
    });
    if (!doc) {
      drain();
      throw new NotFoundError(`upload ${id} is unknown or expired`, 'UPLOAD_UNKNOWN');
    }
    const offset = options.offset ?? doc.size;
    if (offset !== doc.size || doc.committing) {
      drain();
      throw new RangeNotSatisfiableError(`upload ${id} has ${doc.size} bytes; a chunk must start at ${doc.size}, not ${offset}`, { headers: rangeHeader(doc.size) });
    }
    const maxBytes = options.maxBytes ?? Number.MAX_SAFE_INTEGER;
    const room = maxBytes - doc.size;
    if (room < 0) {
      drain();
      throw new PayloadTooLargeError(`upload ${id} is over the ${maxBytes}-byte limit`);
    }
    const chunkKey = `${UPLOAD_STORAGE_PREFIX}${id}/${doc.chunks.length}-${randomUUID()}`;
    // sha256 only: it names the blob; a commit checks whatever else it is given by reading once more.
    const blob = await this.blobs.ingest(body, { maxBytes: room, stagingKey: chunkKey, onAbort: 'drain', digests: [] });
    let conflict = false;
    const row = await this.metadata.updateDocument(this.repository, this.key(id), async (current) => {
      const now = current ? (JSON.parse(current.value) as SessionDocument) : undefined;
      // Another chunk (on this node or another) landed first, or the session ended.
      if (!now || now.size !== doc.size || now.committing) {
        conflict = true;
        return undefined;
      }
      if (blob.size === 0) return undefined;
      const next: SessionDocument = { ...now, size: now.size + blob.size, chunks: [...now.chunks, { key: chunkKey, size: blob.size, digests: blob.digests }] };
      return JSON.stringify(next);
    });
    if (conflict || !row || blob.size === 0) {
      await this.blobs.driver.delete(chunkKey).catch(() => undefined);
      if (!row) throw new NotFoundError(`upload ${id} is unknown or expired`, 'UPLOAD_UNKNOWN');
      if (conflict) throw new RangeNotSatisfiableError(`upload ${id} changed while this chunk arrived; ask for its status and resume`);
    }
    return this.view(id, JSON.parse(row.value) as SessionDocument, row.updatedAt);
  }

  async commit(id: string, path: string, options: PutAssetOptions & { final?: Readable }): Promise<Asset> {
    if (options.final) await this.append(id, options.final, options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {});
    // Claim the session: appends and a second commit now refuse.
    let doc: SessionDocument | undefined;
    await this.metadata.updateDocument(this.repository, this.key(id), async (current) => {
      doc = current ? (JSON.parse(current.value) as SessionDocument) : undefined;
      if (!doc) return undefined;
      if (doc.committing && Date.now() - doc.committing < 10 * 60_000) throw new ConflictError(`upload ${id} is being completed by another request`);
      return JSON.stringify({ ...doc, committing: Date.now() });
    });
    if (!doc) throw new NotFoundError(`upload ${id} is unknown or expired`, 'UPLOAD_UNKNOWN');
    const claimed = doc;
    const release = async () => {
      await this.metadata.updateDocument(this.repository, this.key(id), async (current) => {
        if (!current) return undefined;
        const { committing: _c, ...rest } = JSON.parse(current.value) as SessionDocument;
        return JSON.stringify(rest);
      });
    };
    const { final: _final, ...put } = options;
    // One chunk whose digests cover what is expected is moved into place; anything else
    // (several chunks, or a digest the chunk was not hashed with) is read once more.
    const only = claimed.chunks.length === 1 ? claimed.chunks[0]! : undefined;
    const movable = only !== undefined && ALL_DIGESTS.every((a) => options.expect?.[a] === undefined || only.digests[a] !== undefined);
    let asset: Asset;
    try {
      if (movable) {
        const chunk = claimed.chunks[0]!;
        const mismatch = compareDigests(chunk.digests, chunk.size, options.expect);
        if (mismatch) throw new IntegrityError(mismatch);
        if (options.maxBytes !== undefined && chunk.size > options.maxBytes) throw new PayloadTooLargeError(`the upload is over the ${options.maxBytes}-byte limit`);
        asset = await this.assets.record(path, { blobKey: blobKeyFor(chunk.digests.sha256), stagingKey: chunk.key, size: chunk.size, digests: chunk.digests }, put);
      } else {
        asset = await this.assets.put(path, this.concatenate(claimed.chunks), put);
      }
    } catch (error) {
      await release().catch(() => undefined);
      throw error;
    }
    await this.metadata.deleteDocument(this.repository, this.key(id));
    // The one-chunk case moved its object; the others are dropped now.
    if (!movable) await this.dropChunks(claimed.chunks);
    return asset;
  }

  async cancel(id: string): Promise<boolean> {
    if (!SESSION_ID.test(id)) return false;
    const doc = await this.read(id);
    if (!doc) return false;
    await this.metadata.deleteDocument(this.repository, this.key(id));
    await this.dropChunks(doc.chunks);
    return true;
  }

  private async dropChunks(chunks: readonly ChunkRecord[]): Promise<void> {
    for (const chunk of chunks) await this.blobs.driver.delete(chunk.key).catch(() => undefined);
  }

  /** The chunks one after the other, read lazily (one storage stream open at a time). */
  private concatenate(chunks: readonly ChunkRecord[]): Readable {
    const out = new PassThrough({ highWaterMark: 1024 * 1024 });
    void (async () => {
      try {
        for (const chunk of chunks) {
          const stream = await this.blobs.open(chunk.key);
          for await (const piece of stream) {
            if (!out.write(piece)) await new Promise<void>((resolve) => out.once('drain', resolve));
            if (out.destroyed) {
              stream.destroy();
              return;
            }
          }
        }
        out.end();
      } catch (error) {
        out.destroy(error as Error);
      }
    })();
    return out;
  }
}

function rangeHeader(size: number): Record<string, string> {
  return { Range: `0-${Math.max(0, size - 1)}` };
}

/**
 * Remove upload sessions untouched since `olderThanMs` ago, with their chunks, and chunk
 * objects whose session is gone (a node that died between writing a chunk and recording
 * it). Resolves how many sessions and orphaned objects were removed.
 */
export async function sweepUploads(
  metadata: MetadataStore,
  sessionsOf: (repository: string) => KernelUploadSessions | undefined,
  stores: Iterable<BlobStore>,
  olderThanMs: number,
): Promise<{ sessions: number; orphans: number }> {
  const cutoff = Date.now() - olderThanMs;
  let sessions = 0;
  for (const { repository, key } of await metadata.staleDocuments(UPLOAD_DOCUMENT_PREFIX, cutoff)) {
    const id = key.slice(UPLOAD_DOCUMENT_PREFIX.length);
    const owner = sessionsOf(repository);
    if (owner ? await owner.cancel(id) : await metadata.deleteDocument(repository, key)) sessions++;
  }
  let orphans = 0;
  for (const store of stores) {
    let cursor: string | undefined;
    do {
      const page = await store.driver.list(UPLOAD_STORAGE_PREFIX, { cursor, limit: 1000 });
      for (const objectKey of page.keys) {
        const info = await store.driver.head(objectKey);
        if (!info || info.lastModified.getTime() >= cutoff) continue;
        const id = objectKey.slice(UPLOAD_STORAGE_PREFIX.length).split('/')[0] ?? '';
        // Its session may live in any repository on this store: only a session document
        // newer than the cutoff keeps it (stale ones were removed above).
        const live = (await metadata.staleDocuments(`${UPLOAD_DOCUMENT_PREFIX}${id}`, Number.MAX_SAFE_INTEGER, 1)).length > 0;
        if (!live && (await store.driver.delete(objectKey))) orphans++;
      }
      cursor = page.cursor;
    } while (cursor);
  }
  return { sessions, orphans };
}
