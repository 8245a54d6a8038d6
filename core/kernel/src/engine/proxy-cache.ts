import {
  PayloadTooLargeError,
  RegistryError,
  UpstreamError,
  UpstreamTimeoutError,
  isRegistryError,
  type Logger,
  type ProxyCache,
  type UpstreamFetch,
  type UpstreamPassthrough,
  type UpstreamResult,
  type UpstreamServeResult,
} from '@registry-core/api';
import type { CacheConfig } from '../config/types.js';
import type { AssetRow } from '../metadata/entities.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import type { RepositoryAssetStore } from './asset-store.js';
import { KeyedMutex, type SingleFlight } from './keyed-mutex.js';
import type { ConnectionSlots } from './connection-slots.js';
import { UpstreamClient, UpstreamRefusedError, readBody, type UpstreamCredentials } from './upstream-client.js';
import type { TtlOverrides } from './ttl-overrides.js';
import { UpstreamHealth } from './upstream-health.js';
import { IncomingContent } from './incoming.js';

/** What a flight resolves: a stored answer, or content still arriving (tee). */
type Outcome = UpstreamResult | { readonly found: true; readonly cache: 'MISS'; readonly incoming: IncomingContent };

/**
 * The pull-through cache every proxy repository gets: fresh entries are served from
 * storage; misses and expired metadata go upstream once however many clients ask
 * (coalesced), with conditional requests when the upstream gave validators; an upstream
 * 404 is remembered for `negativeTtl`; an upstream that fails while something is cached
 * yields the cached copy marked STALE. Content is verified before it is stored.
 */
export class KernelProxyCache implements ProxyCache {
  readonly upstreamUrl: string;
  private readonly base: URL;
  /** Counters and circuit breaker of this proxy's upstream. */
  readonly health: UpstreamHealth;
  /** Content being downloaded and stored now, by path: later requests join it. */
  private readonly incoming = new Map<string, IncomingContent>();
  /** This process's hold on a path while it is refreshed (see {@link refresh}). */
  private readonly pathLocks = new KeyedMutex();
  /** Origins besides the upstream's own that content and redirects may come from. */
  private readonly allowedOrigins: ReadonlySet<string>;
  /** Path prefix on the upstream's origin content may come from: the upstream's own path, or the format's wider one. */
  private readonly scopePath: string;
  private readonly client: UpstreamClient;

  constructor(
    private readonly repository: string,
    upstream: string,
    private readonly cache: CacheConfig,
    private readonly assets: RepositoryAssetStore,
    private readonly metadata: MetadataStore,
    private readonly flights: SingleFlight,
    private readonly logger: Logger,
    private readonly ttls?: TtlOverrides,
    /** Where the streaming tee spools content while it arrives (the data folder's tmp). */
    private readonly spoolDir?: string,
    /** A wider path prefix on the upstream's origin content may come from (the format's scope). */
    basePath?: string,
    /** The repository's `upstreamAuth`. */
    credentials?: UpstreamCredentials,
    /** What the registry shares among its proxies: the connection limit and the `Via` loop marker. */
    shared: { readonly globalSlots?: ConnectionSlots; readonly via?: string } = {},
  ) {
    this.upstreamUrl = upstream.endsWith('/') ? upstream : `${upstream}/`;
    this.base = new URL(this.upstreamUrl);
    this.scopePath = basePath !== undefined && this.base.pathname.startsWith(basePath) ? basePath : this.base.pathname;
    this.health = new UpstreamHealth(cache.breakerThreshold, cache.breakerOpenMs);
    this.allowedOrigins = new Set((cache.allowedOrigins ?? []).map((origin) => new URL(origin).origin));
    this.client = new UpstreamClient({
      upstream: this.base,
      connectTimeoutMs: cache.connectTimeoutMs,
      headersTimeoutMs: cache.upstreamTimeoutMs,
      idleTimeoutMs: cache.idleTimeoutMs,
      transferTimeoutMs: cache.transferTimeoutMs,
      minTransferRate: cache.minTransferRate,
      allowPrivateAddresses: cache.allowPrivateAddresses ?? false,
      ...(credentials ? { credentials } : {}),
      ...(cache.maxUpstreamConnections !== undefined ? { maxConnectionsPerOrigin: cache.maxUpstreamConnections } : {}),
      ...(shared.globalSlots ? { globalSlots: shared.globalSlots } : {}),
      ...(shared.via ? { via: shared.via } : {}),
    });
  }

  /** Close the upstream connections (the registry is stopping). */
  close(): Promise<void> {
    return this.client.close();
  }

  async fetch(request: UpstreamFetch): Promise<UpstreamResult> {
    const outcome = await this.obtain(request, false);
    if (!('incoming' in outcome)) return outcome;
    // Joined a download another client's request started: wait until it is stored.
    try {
      return { found: true, asset: await outcome.incoming.stored, cache: 'MISS' };
    } catch (error) {
      return this.failed(request, await this.assets.getRow(request.path), error);
    }
  }

  async serve(request: UpstreamFetch): Promise<UpstreamServeResult> {
    const outcome = await this.obtain(request, this.spoolDir !== undefined && request.kind === 'content');
    if ('incoming' in outcome) return { found: true, cache: 'MISS', body: { kind: 'incoming', incoming: outcome.incoming } };
    if (!outcome.found) return outcome;
    return { found: true, cache: outcome.cache, body: { kind: 'asset', asset: outcome.asset } };
  }

  /** Resolves once every download in progress is stored or has failed. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.incoming.values()].map((incoming) => incoming.stored));
  }

  private async obtain(request: UpstreamFetch, tee: boolean): Promise<Outcome> {
    const now = Date.now();
    const row = await this.assets.getRow(request.path);
    if (row && (row.expiresAt === null || row.expiresAt > now)) {
      // Recorded for cleanup by last use; at most once an hour per asset, so a hot
      // artifact does not turn every download into a database write.
      if (row.lastDownloadedAt === null || now - row.lastDownloadedAt > 3_600_000) {
        void this.metadata.updateAsset(this.repository, row.path, { lastDownloadedAt: now }).catch(() => undefined);
      }
      this.health.hits++;
      return { found: true, asset: this.assets.toAsset(row), cache: 'HIT' };
    }
    const key = `${this.repository}\u0000${request.path}`;
    if (row && row.expiresAt !== null && row.expiresAt + this.cache.staleWhileRevalidate * 1000 > now) {
      // Stale-while-revalidate: answer at once, refresh behind (coalesced with any other).
      void this.flights
        .run(key, () => this.refresh(request, false))
        .catch((error: unknown) => this.logger.warn('background revalidation failed', { path: request.path, error }));
      this.health.hits++;
      return { found: true, asset: this.assets.toAsset(row), cache: 'HIT' };
    }
    const arriving = this.incoming.get(request.path);
    if (arriving && !arriving.failed) {
      this.health.misses++;
      return { found: true, cache: 'MISS', incoming: arriving };
    }
    if (!row && (await this.metadata.isNegativeCached(this.repository, request.path, now))) {
      this.health.negativeHits++;
      return { found: false, cache: 'HIT' };
    }
    const result = await this.flights.run<Outcome>(key, () => this.refresh(request, tee));
    // Counted per client, not per flight: every coalesced caller was served.
    if (result.cache === 'STALE') this.health.stale++;
    else if (result.cache === 'MISS') this.health.misses++;
    else if (result.found) this.health.hits++;
    else this.health.negativeHits++;
    return result;
  }

  /**
   * Resolve an upstream location, refusing anything that is neither under the upstream's
   * base path on its origin nor on one of `cache.allowedOrigins` (SSRF guard). Applied to
   * every redirect too.
   */
  resolve(location: string | URL): URL {
    const url = new URL(location, this.base);
    if (url.origin !== this.base.origin) {
      if (this.allowedOrigins.has(url.origin)) return url;
      throw new UpstreamRefusedError(`refusing upstream URL ${url.origin}: not on the configured upstream ${this.base.origin} nor an allowed origin`);
    }
    if (!url.pathname.startsWith(this.scopePath)) {
      throw new UpstreamRefusedError(`refusing upstream path ${url.pathname}: outside the configured upstream ${this.scopePath}`);
    }
    return url;
  }

  allows(location: string): boolean {
    try {
      this.resolve(location);
      return true;
    } catch {
      return false;
    }
  }

  private readonly checkRedirect = (target: URL): void => {
    this.resolve(target);
  };

  /**
   * One node at a time per path, across every node on the database (an advisory lock on
   * PostgreSQL): a miss that another node is already filling waits for it, then finds the
   * stored entry. A streamed download keeps the lock until it is stored or has failed.
   */
  private async refresh(original: UpstreamFetch, tee: boolean): Promise<Outcome> {
    // A download of this path already streaming in (its flight has ended; it has not): join it.
    const arriving = this.incoming.get(original.path);
    if (arriving && !arriving.failed) return { found: true, cache: 'MISS', incoming: arriving };
    // This process's own hold first: PostgreSQL's advisory locks are re-entrant on the one
    // connection that takes them, so without it a second flight of this process passes
    // straight through while a download holds the cluster lock, and asks the upstream again.
    const local = await this.pathLocks.acquire(original.path);
    let cluster: () => Promise<void>;
    try {
      cluster = await this.metadata.acquireClusterLock(`proxy\n${this.repository}\n${original.path}`);
    } catch (error) {
      local();
      throw error;
    }
    const release = async () => {
      try {
        await cluster();
      } finally {
        local();
      }
    };
    let handedOff = false;
    try {
      const outcome = await this.refreshLocked(original, tee);
      if ('incoming' in outcome) {
        handedOff = true;
        void outcome.incoming.stored.then(
          () => release(),
          () => release(),
        );
      }
      return outcome;
    } finally {
      if (!handedOff) await release();
    }
  }

  private async refreshLocked(original: UpstreamFetch, tee: boolean): Promise<Outcome> {
    // Re-read inside the flight: a previous flight may have just stored it.
    const row = await this.assets.getRow(original.path);
    const now = Date.now();
    if (row && (row.expiresAt === null || row.expiresAt > now)) {
      return { found: true, asset: this.assets.toAsset(row), cache: 'HIT' };
    }
    // Before the breaker: preparing may itself ask the upstream (an index), which must not
    // find the probe slot taken by this very request.
    let request = original;
    if (original.prepare) {
      let prepared;
      try {
        prepared = await original.prepare();
      } catch (error) {
        // The upstream could not be asked: what is known of the path (a stale copy, a stale not-found) stands.
        if (isRegistryError(error) && error.code.startsWith('UPSTREAM_')) return this.failed(original, row, error);
        throw error;
      }
      if (!prepared) return { found: false, cache: 'MISS' };
      request = { ...original, ...prepared };
    }
    const url = this.resolve(request.upstreamUrl ?? request.path.replace(/^\//, ''));
    const headers: Record<string, string> = { ...request.headers };
    if (row?.upstreamEtag) headers['if-none-match'] = row.upstreamEtag;
    if (row?.upstreamLastModified) headers['if-modified-since'] = row.upstreamLastModified;
    if (!this.health.tryAcquire()) return this.failed(request, row, this.blocked());
    try {
      if (row && request.revalidate) {
        // A cheap check first (a HEAD, which some upstreams do not count against rate
        // limits); only a change costs the full request.
        const asset = this.assets.toAsset(row);
        const probe = await this.client
          .request(url, { method: 'HEAD', headers: request.headers ?? {}, checkRedirect: this.checkRedirect, ...(request.authorization ? { authorization: request.authorization } : {}), ...(request.tokenScope ? { tokenScope: request.tokenScope } : {}) })
          .catch(() => undefined);
        this.health.upstreamRequests++;
        if (probe) {
          probe.body.resume();
          const probed: Record<string, string> = {};
          probe.headers.forEach((value, key) => (probed[key] = value));
          if (probe.status >= 200 && probe.status < 300 && request.revalidate.unchanged(probed, asset)) {
            this.health.succeeded();
            await this.assets.updateCacheFields(row.path, { expiresAt: await this.expiry(request, probe.headers) });
            return { found: true, asset, cache: 'HIT' };
          }
        }
      }
      let response;
      try {
        response = await this.requestWithRetries(url, headers, request.authorization, request.tokenScope);
      } catch (error) {
        this.health.verdict(error);
        throw error;
      }
      if (response.status >= 500) this.health.failed();
      else this.health.succeeded();
      if (response.status === 304 && row) {
        response.body.resume();
        await this.assets.updateCacheFields(row.path, { expiresAt: await this.expiry(request, response.headers) });
        return { found: true, asset: this.assets.toAsset(row), cache: 'HIT' };
      }
      if (response.status === 404 || response.status === 410) {
        response.body.resume();
        // Gone upstream: drop an expired copy too, so the negative cache answers next time.
        if (row) await this.assets.delete(row.path);
        await this.metadata.setNegativeCached(this.repository, request.path, now + this.cache.negativeTtl * 1000);
        return { found: false, cache: 'MISS' };
      }
      if (response.status < 200 || response.status >= 300) {
        const text = (await readBody(response.body, 4096).catch(() => Buffer.alloc(0))).toString('utf8').slice(0, 200);
        throw new UpstreamError(`upstream answered ${response.status} for ${url.pathname}${text ? `: ${text}` : ''}`);
      }
      // What the upstream announced is checked too: a body cut short is never an entry.
      // (Not when the body was encoded: the length is then the encoded one's.)
      const encoded = !['', 'identity'].includes((response.headers.get('content-encoding') ?? '').toLowerCase());
      const announced = encoded ? null : response.headers.get('content-length');
      const size = announced !== null && /^\d+$/.test(announced) ? Number(announced) : request.expect?.size;
      if (size !== undefined && request.expect?.size !== undefined && size !== request.expect.size) {
        response.body.destroy();
        throw new UpstreamError(`upstream announces ${size} bytes for ${request.path}, its metadata ${request.expect.size}`);
      }
      if (size !== undefined && request.maxBytes !== undefined && size > request.maxBytes) {
        response.body.destroy();
        throw new PayloadTooLargeError(`upstream content for ${request.path} is ${size} bytes, over the ${request.maxBytes} allowed${request.kind === 'metadata' ? ' (cache.maxMetadataSize)' : ''}`);
      }
      const options = {
        kind: request.kind,
        contentType: request.contentType ?? response.headers.get('content-type') ?? 'application/octet-stream',
        expect: size !== undefined ? { ...request.expect, size } : request.expect,
        maxBytes: request.maxBytes,
        // An upstream body we refuse is not downloaded to the end.
        onAbort: 'destroy' as const,
      };
      const fields = {
        expiresAt: await this.expiry(request, response.headers),
        upstreamEtag: response.headers.get('etag'),
        upstreamLastModified: response.headers.get('last-modified'),
      };
      if (tee && this.spoolDir) {
        return { found: true, cache: 'MISS', incoming: await this.tee(request, response.body, options, fields, size) };
      }
      const asset = await this.assets.putWithCacheFields(request.path, response.body, options, fields);
      await this.metadata.clearNegativeCached(this.repository, request.path);
      return { found: true, asset, cache: 'MISS' };
    } catch (error) {
      return this.failed(request, row, error);
    }
  }

  /**
   * Spool the body for every reader while the blob store verifies and stores it from the
   * same spool. The download belongs to the cache, not to a request: it runs to the end
   * whoever goes away, and only a complete, verified body becomes an entry.
   */
  private async tee(
    request: UpstreamFetch,
    body: import('node:stream').Readable,
    options: Parameters<RepositoryAssetStore['putWithCacheFields']>[2],
    fields: Parameters<RepositoryAssetStore['putWithCacheFields']>[3],
    size: number | undefined,
  ): Promise<IncomingContent> {
    const incoming = await IncomingContent.start(this.spoolDir!, body, { path: request.path, kind: request.kind, contentType: options.contentType, size });
    this.incoming.set(request.path, incoming);
    const done = () => {
      if (this.incoming.get(request.path) === incoming) this.incoming.delete(request.path);
    };
    this.assets.putWithCacheFields(request.path, incoming.openRaw(), options, fields).then(
      async (asset) => {
        await this.metadata.clearNegativeCached(this.repository, request.path).catch(() => undefined);
        done();
        incoming.complete(asset);
      },
      (error: unknown) => {
        done();
        this.health.upstreamErrors++;
        const integrity = isRegistryError(error) && error.code === 'INTEGRITY_MISMATCH';
        this.logger.warn(integrity ? 'upstream content failed verification; not cached' : 'upstream download failed; not cached', {
          repository: this.repository,
          path: request.path,
          reason: (error as Error).message,
        });
        incoming.fail(
          integrity
            ? new UpstreamError(`upstream content for ${request.path} does not match its announced digest (${(error as Error).message})`)
            : (error as Error),
        );
      },
    );
    return incoming;
  }

  /**
   * GET from the upstream; a network error or a 502/503/504 is retried (`cache.retries`
   * times, backing off 100 ms, 200 ms, 400 ms... with jitter). A timeout is not retried:
   * it already cost the client the whole timeout.
   */
  private async requestWithRetries(url: URL, headers: Record<string, string>, authorization?: string, tokenScope?: string) {
    for (let attempt = 0; ; attempt++) {
      const last = attempt >= this.cache.retries;
      this.health.upstreamRequests++;
      try {
        const response = await this.client.request(url, { headers, checkRedirect: this.checkRedirect, ...(authorization ? { authorization } : {}), ...(tokenScope ? { tokenScope } : {}) });
        if (last || ![502, 503, 504].includes(response.status)) return response;
        response.body.resume();
      } catch (error) {
        if (last || !isRegistryError(error) || error.code !== 'UPSTREAM_FAILED' || error instanceof UpstreamRefusedError) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt * (0.75 + Math.random() / 2)));
    }
  }

  private async failed(request: UpstreamFetch, row: AssetRow | null, error: unknown): Promise<UpstreamResult> {
    if (isRegistryError(error) && error.code === 'INTEGRITY_MISMATCH') {
      this.logger.warn('upstream content failed verification; not cached', { repository: this.repository, path: request.path, reason: error.message });
      throw new UpstreamError(`upstream content for ${request.path} does not match its announced digest (${error.message})`);
    }
    if (row) {
      this.logger.warn('upstream failed; serving stale copy', { repository: this.repository, path: request.path, error });
      return { found: true, asset: this.assets.toAsset(row), cache: 'STALE' };
    }
    // What the upstream said it lacks, past its negative TTL, is stale knowledge like a stale
    // copy: answered (a STALE not-found) rather than an error while the upstream cannot say.
    if (isRegistryError(error) && error.code.startsWith('UPSTREAM_') && (await this.metadata.wasNegativeCached(this.repository, request.path))) {
      this.logger.warn('upstream failed; answering its last not-found', { repository: this.repository, path: request.path, error });
      return { found: false, cache: 'STALE' };
    }
    if (isRegistryError(error) && (error.code === 'UPSTREAM_TIMEOUT' || error.code === 'UPSTREAM_FAILED' || error.code === 'UPSTREAM_BLOCKED' || error.code === 'UPSTREAM_BUSY')) {
      throw error;
    }
    // Too large is the upstream's fault, not the client's: a 502 (nothing was stored).
    if (isRegistryError(error) && error.status === 413) throw new UpstreamError(error.message, { cause: error });
    throw new UpstreamError(`upstream failed for ${request.path}: ${(error as Error).message}`, { cause: error });
  }

  /**
   * When a cached answer must be revalidated: a per-artifact override (`registry-core cache
   * ttl`), else the upstream's Cache-Control when honoured (metadata), else the repository's
   * TTL; content without a `contentTtl` never expires.
   */
  private async expiry(request: UpstreamFetch, headers: Headers): Promise<number | null> {
    const override = await this.ttls?.lookup(this.repository, request.path);
    if (override !== undefined) return Date.now() + override * 1000;
    if (request.kind !== 'metadata') return this.cache.contentTtl === undefined ? null : Date.now() + this.cache.contentTtl * 1000;
    let ttl = this.cache.metadataTtl;
    if (this.cache.honorCacheControl) {
      const control = (headers.get('cache-control') ?? '').toLowerCase();
      const maxAge = /(?:^|,)\s*s-maxage=(\d+)/.exec(control) ?? /(?:^|,)\s*max-age=(\d+)/.exec(control);
      if (/(?:^|,)\s*(no-cache|no-store|must-revalidate)\b/.test(control) && !maxAge) ttl = 0;
      else if (maxAge) ttl = Number(maxAge[1]);
    }
    return Date.now() + ttl * 1000;
  }

  /** 502 UPSTREAM_BLOCKED: the breaker is open. */
  private blocked(): RegistryError {
    const seconds = Math.ceil(this.health.retryAfterMs() / 1000);
    return new RegistryError('UPSTREAM_BLOCKED', `upstream ${this.base.origin} is not asked for ${seconds} s after repeated failures`, 502, {
      headers: { 'Retry-After': String(seconds) },
    });
  }

  /**
   * Report every upstream request's time until its answer (headers) and whether it failed
   * (5xx or no answer): the host's metrics.
   */
  observeUpstream(observe: (seconds: number, failed: boolean) => void): void {
    const client = this.client;
    const request = client.request.bind(client);
    client.request = async (url, options) => {
      const started = performance.now();
      try {
        const response = await request(url, options);
        observe((performance.now() - started) / 1000, response.status >= 500);
        return response;
      } catch (error) {
        observe((performance.now() - started) / 1000, true);
        throw error;
      }
    };
  }

  /**
   * One request the format passes on as it is (npm audit, search): never cached, but under
   * the same breaker, timeouts and connection limits as every fetch, and counted in the stats.
   */
  async passthrough(request: UpstreamPassthrough): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
    const url = this.resolve(request.upstreamUrl);
    if (!this.health.tryAcquire()) throw this.blocked();
    this.health.upstreamRequests++;
    try {
      const response = await this.client.request(url, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        checkRedirect: this.checkRedirect,
        ...(request.authorization ? { authorization: request.authorization } : {}),
        ...(request.tokenScope ? { tokenScope: request.tokenScope } : {}),
      });
      const body = await readBody(response.body, request.maxBytes ?? 16 * 1024 * 1024);
      if (response.status >= 500) this.health.failed();
      else this.health.succeeded();
      const headers: Record<string, string> = {};
      response.headers.forEach((value, key) => (headers[key] = value));
      return { status: response.status, headers, body };
    } catch (error) {
      this.health.verdict(error);
      if (isRegistryError(error)) throw error;
      throw new UpstreamTimeoutError(`upstream failed: ${(error as Error).message}`);
    }
  }
}
