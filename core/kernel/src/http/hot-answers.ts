import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Principal } from '@registry-core/api';
import type { AccessDecision } from './dispatcher.js';

/** A whole answer kept to be replayed without koa, routing or storage. */
export interface HotAnswer {
  readonly headers: Readonly<Record<string, string>>;
  readonly etag: string;
  /**
   * The bytes, from the blob memory cache or the derived memory (a rendered document's
   * chunks, in order); `undefined` once that memory dropped them.
   */
  readonly bytes: () => Buffer | readonly Buffer[] | undefined;
  /**
   * Request headers (lower-case) whose values chose this answer (its `Vary`, and the origin
   * its URLs were made for): each combination of values is an answer of its own.
   */
  readonly vary?: readonly string[];
  /**
   * The repositories it was made from (a group and its members): a change in any of them
   * ({@link HotAnswers.invalidate}) drops it. Absent: any change drops it.
   */
  readonly repositories?: readonly string[];
  /** Milliseconds it may be replayed when shorter than the hot path's own window (a proxy's metadata TTL). */
  readonly ttlMs?: number;
  /** Counts the hit where a normal answer would have (the proxy's stats, downloads): with the body bytes sent (0 for HEAD and 304). */
  readonly onHit?: (bytesSent: number) => void;
  /** The repository and format it was first answered for (the request metrics' labels). */
  readonly labels?: { readonly repository: string; readonly format: string };
  /** The package and version it is a download of (the structured access log's). */
  readonly download?: { readonly name: string; readonly version: string };
  /** An authenticated answer's permission decisions (all reads), re-made on every replay. */
  readonly decisions?: readonly AccessDecision[];
}

/** How the hot path learns of changes other processes made (see {@link HotAnswers}). */
export interface ChangeProbe {
  /** Whether another process may have changed anything since the last call (cheap, synchronous). */
  changedElsewhere(): boolean;
  /** Milliseconds between calls: another process's change shows on this one within this time. */
  readonly everyMs: number;
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

/** What the hot path reads of a request: Node's `IncomingMessage` is one. */
export interface HotRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  /** Lower-case names. */
  readonly headers: IncomingHttpHeaders;
}

/** A replay to write: the answer, who it was replayed to, and the status and body to send. */
export interface Replay {
  readonly answer: HotAnswer;
  /** `anonymous`, or the name of the token's user. */
  readonly user: string;
  /** 200, or 304 for a matching `If-None-Match`. */
  readonly status: 200 | 304;
  /** The body's length (its `Content-Length`, sent with a 200 to a HEAD too). */
  readonly length: number;
  /** The bytes to send; none for a HEAD or a 304. */
  readonly body: Buffer | readonly Buffer[] | undefined;
  readonly requestId: string;
}

/** Milliseconds an answer is replayed; changes made by other nodes show within this time. */
export const HOT_TTL_MS = 10_000;
const MAX_ENTRIES = 10_000;
/** Answers kept for one URL (variants by the headers it varies on); the oldest goes first. */
const MAX_VARIANTS = 8;
/** Longest combination of varying header values kept: longer ones take the full path. */
const MAX_VARIANT_CHARS = 1024;
/** Index key of answers that depend on every repository. */
const ANY_REPOSITORY = '\u0000any';

interface Kept {
  readonly answer: HotAnswer;
  readonly until: number;
}

/** Everything kept for one URL (and token): the answers by the values of the headers they vary on. */
interface Slot {
  readonly vary: readonly string[];
  readonly repositories: readonly string[];
  readonly variants: Map<string, Kept>;
}

/**
 * The hot path for the most common requests of a registry: a GET of an immutable, small,
 * already cached artifact, and of a metadata document the kernel rendered (a packument, a
 * simple page: `DerivedCache.renderJson`/`renderText`). The first answer goes through koa,
 * the dispatcher and the format as usual (permissions, group rules, counters); the host then
 * remembers it by URL (and, for a document, by the values of the request headers it varies
 * on and the origin its URLs name) and replays it (headers, body from the blob memory cache
 * or the derived memory, 304 for a matching If-None-Match) until {@link HOT_TTL_MS} ends (or
 * a proxy's metadata TTL, when shorter) or a repository it was made from changes: this
 * process calls {@link invalidate} for each change it makes (a group's answer depends on
 * every member), so a publish here is seen at once. Another process's change (a worker or a
 * node on the same database, the CLI) is seen within the probe's `everyMs`
 * ({@link ChangeProbe}: the metadata store's cheap test, which drops every answer when it
 * says so), or at once when something calls {@link invalidate} for it on this process.
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
  private readonly entries = new Map<string, Slot>();
  /** Keys of the slots made from each repository. */
  private readonly byRepository = new Map<string, Set<string>>();
  /** Invalidations so far, and the number of each repository's last one (see {@link mark}). */
  private sequence = 0;
  private readonly invalidatedAt = new Map<string, number>();

  constructor(
    /** Formats' own credential headers (lower-case): requests carrying one take the full path. */
    private readonly credentialHeaders: readonly string[] = [],
    /** Without it, requests with an `Authorization` header always take the full path. */
    private readonly auth?: HotAuth,
    /** Without it, other processes' changes show within {@link HOT_TTL_MS}. */
    private readonly probe?: ChangeProbe,
  ) {}

  private probedAt = 0;

  /** Whether `req` may be answered from here at all (checked before the lookup). */
  eligible(req: HotRequest): boolean {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const h = req.headers;
    if ((h.authorization !== undefined && !this.auth) || h.cookie !== undefined || h.range !== undefined || h['if-modified-since'] !== undefined || h['x-registry-core-accel'] !== undefined) return false;
    return !this.credentialHeaders.some((name) => h[name] !== undefined);
  }

  /** The key of `req`'s entry and who asks; `undefined` when an authenticated one cannot be replayed. */
  key(req: HotRequest): { key: string; principal?: Principal } | undefined {
    const url = req.url ?? '';
    const authorization = req.headers.authorization;
    if (authorization === undefined) return { key: url };
    const who = this.auth?.principal(authorization);
    return who ? { key: `${who.key}\u0000${url}`, principal: who.principal } : undefined;
  }

  /**
   * The replay for `req` if a hot answer exists (its hit is counted); `undefined` lets the
   * full path serve it. The caller writes it: {@link serve} through Node's response, the
   * direct front (direct-replies.ts) straight to the socket.
   */
  answer(req: HotRequest): Replay | undefined {
    if (!this.eligible(req)) return undefined;
    const asked = this.key(req);
    if (!asked) return undefined;
    const { key, principal } = asked;
    if (this.probe) {
      // Another process (a worker, a node, the CLI) changed the database: everything may be old.
      const now = Date.now();
      if (now - this.probedAt >= this.probe.everyMs) {
        this.probedAt = now;
        if (this.probe.changedElsewhere()) this.clear();
      }
    }
    const slot = this.entries.get(key);
    if (!slot) return undefined;
    const variant = variantOf(req, slot.vary);
    const entry = variant === undefined ? undefined : slot.variants.get(variant);
    if (!entry) return undefined;
    if (entry.until < Date.now()) {
      this.dropVariant(key, slot, variant!);
      return undefined;
    }
    // Only reads a principal is still given (and refused) alike, decided again now.
    if (principal && !(entry.answer.decisions && this.auth!.decidesAlike(principal, entry.answer.decisions))) return undefined;
    const bytes = entry.answer.bytes();
    if (!bytes) {
      this.dropVariant(key, slot, variant!);
      return undefined;
    }
    const length = Buffer.isBuffer(bytes) ? bytes.length : (bytes as readonly Buffer[]).reduce((n, chunk) => n + chunk.length, 0);
    const askedId = req.headers['x-request-id'];
    const requestId = (typeof askedId === 'string' && askedId.slice(0, 64)) || randomUUID();
    const notModified = matchesEtag(req.headers['if-none-match'], entry.answer.etag);
    const sent = notModified || req.method === 'HEAD' ? 0 : length;
    entry.answer.onHit?.(sent);
    return { answer: entry.answer, user: principal ? principal.name : 'anonymous', status: notModified ? 304 : 200, length, body: sent > 0 ? bytes : undefined, requestId };
  }

  /** Answer `req` through Node's response if a hot answer exists; `undefined` lets koa serve it. */
  serve(req: HotRequest, res: ServerResponse): Replay | undefined {
    const replay = this.answer(req);
    if (!replay) return undefined;
    // Object.assign, not a spread followed by more members: on Node 20's V8 that gives every
    // object a new hidden class once optimized, and the garbage then reaches the old space.
    res.writeHead(replay.status, Object.assign({}, replay.answer.headers, replay.status === 304 ? { 'X-Request-Id': replay.requestId } : { 'X-Request-Id': replay.requestId, 'Content-Length': String(replay.length) }));
    const body = replay.body;
    if (!body) res.end();
    else if (Buffer.isBuffer(body)) res.end(body);
    else {
      // A rendered document's chunks as they are kept (never joined into one copy), sent
      // together (end() uncorks).
      res.cork();
      for (const chunk of body) res.write(chunk);
      res.end();
    }
    return replay;
  }

  /**
   * Keep the answer to `req` (anonymous, or authenticated with a cached principal that is
   * `principal` itself and decisions that are all reads; anything else is not kept).
   */
  remember(req: HotRequest, answer: HotAnswer, principal?: Principal, since?: number): void {
    const asked = this.key(req);
    if (!asked || asked.principal !== principal) return;
    // Made from something that changed while it was being made: it may be the old state.
    if (since !== undefined && this.changedSince(answer.repositories, since)) return;
    if (principal && !(answer.decisions && answer.decisions.length > 0 && answer.decisions.every((d) => d.permission === 'read'))) return;
    const ttl = Math.min(HOT_TTL_MS, answer.ttlMs ?? HOT_TTL_MS);
    if (!(ttl > 0)) return;
    const vary = answer.vary ?? [];
    const variant = variantOf(req, vary);
    if (variant === undefined) return;
    const repositories = answer.repositories ?? [ANY_REPOSITORY];
    let slot = this.entries.get(asked.key);
    if (slot && !(sameList(slot.vary, vary) && sameList(slot.repositories, repositories))) {
      this.dropSlot(asked.key);
      slot = undefined;
    }
    if (!slot) {
      if (this.entries.size >= MAX_ENTRIES) this.dropSlot(this.entries.keys().next().value!);
      slot = { vary, repositories, variants: new Map() };
      this.entries.set(asked.key, slot);
      for (const repository of repositories) {
        let keys = this.byRepository.get(repository);
        if (!keys) this.byRepository.set(repository, (keys = new Set()));
        keys.add(asked.key);
      }
    }
    slot.variants.delete(variant);
    if (slot.variants.size >= MAX_VARIANTS) slot.variants.delete(slot.variants.keys().next().value!);
    slot.variants.set(variant, { answer, until: Date.now() + ttl });
  }

  /**
   * Forget every answer made from `repository` (a group's answers depend on each member):
   * something changed in it (a publish, a delete, a newly cached file). This process calls
   * it for each change it makes; a message from another node about a change it made may
   * call it too, closing the window in which that node's change is not seen here.
   */
  invalidate(repository: string): void {
    this.invalidatedAt.set(repository, ++this.sequence);
    for (const index of [repository, ANY_REPOSITORY]) {
      const keys = this.byRepository.get(index);
      if (keys) for (const key of [...keys]) this.dropSlot(key);
    }
  }

  /**
   * A mark to take before an answer is made and give to {@link remember}: an answer made
   * from a repository invalidated after the mark is not kept (it may have read the old state).
   */
  mark(): number {
    return this.sequence;
  }

  /** Forget everything. */
  clear(): void {
    this.invalidatedAt.set(ANY_REPOSITORY, ++this.sequence);
    this.entries.clear();
    this.byRepository.clear();
  }

  /** URLs (per token) with answers kept. */
  get size(): number {
    return this.entries.size;
  }

  private changedSince(repositories: readonly string[] | undefined, since: number): boolean {
    if ((this.invalidatedAt.get(ANY_REPOSITORY) ?? 0) > since) return true;
    if (repositories === undefined) return this.sequence > since;
    return repositories.some((repository) => (this.invalidatedAt.get(repository) ?? 0) > since);
  }

  private dropVariant(key: string, slot: Slot, variant: string): void {
    slot.variants.delete(variant);
    if (slot.variants.size === 0) this.dropSlot(key);
  }

  private dropSlot(key: string): void {
    const slot = this.entries.get(key);
    if (!slot) return;
    this.entries.delete(key);
    for (const repository of slot.repositories) {
      const keys = this.byRepository.get(repository);
      keys?.delete(key);
      if (keys?.size === 0) this.byRepository.delete(repository);
    }
  }
}

/** The values of `vary`'s headers in `req`, one string; `undefined` when too long to keep. */
function variantOf(req: HotRequest, vary: readonly string[]): string | undefined {
  if (vary.length === 0) return '';
  let variant = '';
  for (const name of vary) {
    const value = req.headers[name];
    variant += `${Array.isArray(value) ? value.join(', ') : (value ?? '')}\u0000`;
  }
  return variant.length > MAX_VARIANT_CHARS ? undefined : variant;
}

const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** RFC 9110 If-None-Match against a strong ETag (weak comparison, `*` matches). */
export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}
