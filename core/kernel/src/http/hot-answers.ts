import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '@registry-core/api';
import type { AccessDecision } from './dispatcher.js';

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
  /** An authenticated answer's permission decisions (all reads), re-made on every replay. */
  readonly decisions?: readonly AccessDecision[];
}

/** What the hot path needs of authentication and authorization to replay authenticated reads. */
export interface HotAuth {
  /**
   * The principal of an `Authorization` header from the authentication cache, without a
   * query or an await, and a key for it (a hash of the secret); `undefined` when it is not
   * in the cache (not checked within the trust window, expired, revoked here): the full path.
   */
  principal(authorization: string): { readonly principal: Principal; readonly key: string } | undefined;
  /** Whether `principal` is still given (and still refused) what `decisions` say. */
  decidesAlike(principal: Principal, decisions: readonly AccessDecision[]): boolean;
}

/** A replayed answer and who it was replayed to. */
export interface Replayed {
  readonly answer: HotAnswer;
  /** `anonymous`, or the name of the token's user. */
  readonly user: string;
}

/** Seconds an answer is replayed; changes made by other nodes show within this time. */
const TTL_MS = 10_000;
const MAX_ENTRIES = 10_000;

/**
 * The hot path for the most common request of a registry: a GET of an immutable, small,
 * already cached artifact. The first answer goes through koa, the dispatcher and the
 * format as usual (permissions, group rules, counters); the host then remembers it by URL
 * and replays it (headers, body from the blob memory cache, 304 for a matching
 * If-None-Match) until the TTL ends or this process changes anything in any repository.
 *
 * Authenticated reads (`Authorization: Bearer rc_...`, a stored token) are replayed too,
 * under stricter rules: an entry is kept per token (keyed by a hash of the secret and the
 * URL, so a group's answer is the one this token's own permissions chose); it is replayed
 * only while the token is in the authentication cache (checked against the metadata store
 * within `auth.cacheSeconds`, not expired: revocation and expiry hold as on the full path),
 * and only if every permission decision the first answer made (the repository's read,
 * each group member's, each package rule's) comes out the same for the principal now.
 * Cookies, other credentials (Basic, signed access tokens, a format's own headers), ranges
 * and date conditions always take the full path.
 */
export class HotAnswers {
  private readonly entries = new Map<string, { answer: HotAnswer; until: number }>();

  constructor(
    /** Formats' own credential headers (lower-case): requests carrying one take the full path. */
    private readonly credentialHeaders: readonly string[] = [],
    /** Without it, requests with an `Authorization` header always take the full path. */
    private readonly auth?: HotAuth,
  ) {}

  /** Whether `req` may be answered from here at all (checked before the lookup). */
  eligible(req: IncomingMessage): boolean {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const h = req.headers;
    if ((h.authorization !== undefined && !this.auth) || h.cookie !== undefined || h.range !== undefined || h['if-modified-since'] !== undefined || h['x-registry-core-accel'] !== undefined) return false;
    return !this.credentialHeaders.some((name) => h[name] !== undefined);
  }

  /** The key of `req`'s entry and who asks; `undefined` when an authenticated one cannot be replayed. */
  key(req: IncomingMessage): { key: string; principal?: Principal } | undefined {
    const url = req.url ?? '';
    const authorization = req.headers.authorization;
    if (authorization === undefined) return { key: url };
    const who = this.auth?.principal(authorization);
    return who ? { key: `${who.key}\u0000${url}`, principal: who.principal } : undefined;
  }

  /** Answer `req` if a hot answer exists (resolves it); `undefined` lets koa serve it. */
  serve(req: IncomingMessage, res: ServerResponse): Replayed | undefined {
    if (!this.eligible(req)) return undefined;
    const asked = this.key(req);
    if (!asked) return undefined;
    const { key, principal } = asked;
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until < Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    // Only reads a principal is still given (and refused) alike, decided again now.
    if (principal && !(entry.answer.decisions && this.auth!.decidesAlike(principal, entry.answer.decisions))) return undefined;
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
    return { answer: entry.answer, user: principal ? principal.name : 'anonymous' };
  }

  /**
   * Keep the answer to `req` (anonymous, or authenticated with a cached principal that is
   * `principal` itself and decisions that are all reads; anything else is not kept).
   */
  remember(req: IncomingMessage, answer: HotAnswer, principal?: Principal): void {
    const asked = this.key(req);
    if (!asked || asked.principal !== principal) return;
    if (principal && !(answer.decisions && answer.decisions.length > 0 && answer.decisions.every((d) => d.permission === 'read'))) return;
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(asked.key, { answer, until: Date.now() + TTL_MS });
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
