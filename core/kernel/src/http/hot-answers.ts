import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A whole answer kept to be replayed without koa, routing or storage. */
export interface HotAnswer {
  readonly headers: Readonly<Record<string, string>>;
  readonly etag: string;
  /** The bytes, from the blob memory cache (`undefined` once it dropped them). */
  readonly bytes: () => Buffer | undefined;
  /** Counts the hit where a normal answer would have (the proxy's stats, downloads): with the body bytes sent (0 for HEAD and 304). */
  readonly onHit?: (bytesSent: number) => void;
  /** The repository and format it was first answered for (the request metrics' labels). */
  readonly labels?: { readonly repository: string; readonly format: string };
  /** The package and version it is a download of (the structured access log's). */
  readonly download?: { readonly name: string; readonly version: string };
}

/** Seconds an answer is replayed; changes made by other nodes show within this time. */
const TTL_MS = 10_000;
const MAX_ENTRIES = 10_000;

/**
 * The hot path for the most common request of a registry: an anonymous GET of an
 * immutable, small, already cached artifact. The first answer goes through koa, the
 * dispatcher and the format as usual (permissions, group rules, counters); the host
 * then remembers it by URL and replays it (headers, body from the blob memory cache, 304
 * for a matching If-None-Match) until the TTL ends or this process changes anything in
 * any repository. Requests with credentials, cookies, ranges or date conditions always
 * take the full path.
 */
export class HotAnswers {
  private readonly entries = new Map<string, { answer: HotAnswer; until: number }>();

  constructor(
    /** Formats' own credential headers (lower-case): requests carrying one take the full path. */
    private readonly credentialHeaders: readonly string[] = [],
  ) {}

  /** Whether `req` may be answered from here at all (checked before the lookup). */
  eligible(req: IncomingMessage): boolean {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const h = req.headers;
    if (h.authorization !== undefined || h.cookie !== undefined || h.range !== undefined || h['if-modified-since'] !== undefined || h['x-registry-core-accel'] !== undefined) return false;
    return !this.credentialHeaders.some((name) => h[name] !== undefined);
  }

  /** Answer `req` if a hot answer exists (resolves it); `undefined` lets koa serve it. */
  serve(req: IncomingMessage, res: ServerResponse): HotAnswer | undefined {
    if (!this.eligible(req)) return undefined;
    const key = req.url ?? '';
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until < Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    const bytes = entry.answer.bytes();
    if (!bytes) {
      this.entries.delete(key);
      return undefined;
    }
    const requestId = (typeof req.headers['x-request-id'] === 'string' && req.headers['x-request-id'].slice(0, 64)) || randomUUID();
    const notModified = matchesEtag(req.headers['if-none-match'], entry.answer.etag);
    entry.answer.onHit?.(notModified || req.method === 'HEAD' ? 0 : bytes.length);
    res.writeHead(notModified ? 304 : 200, {
      ...entry.answer.headers,
      'X-Request-Id': requestId,
      ...(notModified ? {} : { 'Content-Length': String(bytes.length) }),
    });
    res.end(notModified || req.method === 'HEAD' ? undefined : bytes);
    return entry.answer;
  }

  remember(url: string, answer: HotAnswer): void {
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(url, { answer, until: Date.now() + TTL_MS });
  }

  /** Forget everything (something changed: a publish, a delete, a newly cached file). */
  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

/** RFC 9110 If-None-Match against a strong ETag (weak comparison, `*` matches). */
export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}
