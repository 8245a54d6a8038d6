import {
  RegistryError,
  UpstreamError,
  UpstreamTimeoutError,
  isRegistryError,
  type Logger,
  type ProxyCache,
  type UpstreamFetch,
  type UpstreamPassthrough,
  type UpstreamResult,
} from '@registry-core/api';
import type { CacheConfig } from '../config/types.js';
import type { AssetRow } from '../metadata/entities.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import type { RepositoryAssetStore } from './asset-store.js';
import type { SingleFlight } from './keyed-mutex.js';
import { UpstreamClient, UpstreamRefusedError, readBody } from './upstream-client.js';
import type { TtlOverrides } from './ttl-overrides.js';
import { UpstreamHealth } from './upstream-health.js';

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
  /** Origins besides the upstream's own that content and redirects may come from. */
  private readonly allowedOrigins: ReadonlySet<string>;
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
  ) {
    this.upstreamUrl = upstream.endsWith('/') ? upstream : `${upstream}/`;
    this.base = new URL(this.upstreamUrl);
    this.health = new UpstreamHealth(cache.breakerThreshold, cache.breakerOpenMs);
    this.allowedOrigins = new Set((cache.allowedOrigins ?? []).map((origin) => new URL(origin).origin));
    this.client = new UpstreamClient({
      upstream: this.base,
      connectTimeoutMs: cache.connectTimeoutMs,
      headersTimeoutMs: cache.upstreamTimeoutMs,
      idleTimeoutMs: cache.idleTimeoutMs,
      allowPrivateAddresses: cache.allowPrivateAddresses ?? false,
    });
  }

  /** Close the upstream connections (the registry is stopping). */
  close(): Promise<void> {
    return this.client.close();
  }

  async fetch(request: UpstreamFetch): Promise<UpstreamResult> {
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
      void this.flights.run(key, () => this.refresh(request)).catch((error: unknown) => this.logger.warn('background revalidation failed', { path: request.path, error }));
      this.health.hits++;
      return { found: true, asset: this.assets.toAsset(row), cache: 'HIT' };
    }
    if (!row && (await this.metadata.isNegativeCached(this.repository, request.path, now))) {
      this.health.negativeHits++;
      return { found: false, cache: 'HIT' };
    }
    const result = await this.flights.run(key, () => this.refresh(request));
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
    if (!url.pathname.startsWith(this.base.pathname)) {
      throw new UpstreamRefusedError(`refusing upstream path ${url.pathname}: outside the configured upstream ${this.base.pathname}`);
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

  private async refresh(request: UpstreamFetch): Promise<UpstreamResult> {
    // Re-read inside the flight: a previous flight may have just stored it.
    const row = await this.assets.getRow(request.path);
    const now = Date.now();
    if (row && (row.expiresAt === null || row.expiresAt > now)) {
      return { found: true, asset: this.assets.toAsset(row), cache: 'HIT' };
    }
    const url = this.resolve(request.upstreamUrl ?? request.path.replace(/^\//, ''));
    const headers: Record<string, string> = { ...request.headers };
    if (row?.upstreamEtag) headers['if-none-match'] = row.upstreamEtag;
    if (row?.upstreamLastModified) headers['if-modified-since'] = row.upstreamLastModified;
    if (!this.health.tryAcquire()) {
      const seconds = Math.ceil(this.health.retryAfterMs() / 1000);
      return this.failed(
        request,
        row,
        new RegistryError('UPSTREAM_BLOCKED', `upstream ${this.base.origin} is not asked for ${seconds} s after repeated failures`, 502, {
          headers: { 'Retry-After': String(seconds) },
        }),
      );
    }
    try {
      let response;
      try {
        response = await this.requestWithRetries(url, headers);
      } catch (error) {
        this.health.failed();
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
      const asset = await this.assets.putWithCacheFields(
        request.path,
        response.body,
        {
          kind: request.kind,
          contentType: request.contentType ?? response.headers.get('content-type') ?? 'application/octet-stream',
          expect: request.expect,
          maxBytes: request.maxBytes,
          // An upstream body we refuse is not downloaded to the end.
          onAbort: 'destroy',
        },
        {
          expiresAt: await this.expiry(request, response.headers),
          upstreamEtag: response.headers.get('etag'),
          upstreamLastModified: response.headers.get('last-modified'),
        },
      );
      await this.metadata.clearNegativeCached(this.repository, request.path);
      return { found: true, asset, cache: 'MISS' };
    } catch (error) {
      return this.failed(request, row, error);
    }
  }

  /**
   * GET from the upstream; a network error or a 502/503/504 is retried (`cache.retries`
   * times, backing off 100 ms, 200 ms, 400 ms... with jitter). A timeout is not retried:
   * it already cost the client the whole timeout.
   */
  private async requestWithRetries(url: URL, headers: Record<string, string>) {
    for (let attempt = 0; ; attempt++) {
      const last = attempt >= this.cache.retries;
      this.health.upstreamRequests++;
      try {
        const response = await this.client.request(url, { headers, checkRedirect: this.checkRedirect });
        if (last || ![502, 503, 504].includes(response.status)) return response;
        response.body.resume();
      } catch (error) {
        if (last || !isRegistryError(error) || error.code !== 'UPSTREAM_FAILED' || error instanceof UpstreamRefusedError) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt * (0.75 + Math.random() / 2)));
    }
  }

  private failed(request: UpstreamFetch, row: AssetRow | null, error: unknown): UpstreamResult {
    if (isRegistryError(error) && error.code === 'INTEGRITY_MISMATCH') {
      this.logger.warn('upstream content failed verification; not cached', { repository: this.repository, path: request.path, reason: error.message });
      throw new UpstreamError(`upstream content for ${request.path} does not match its announced digest (${error.message})`);
    }
    if (row) {
      this.logger.warn('upstream failed; serving stale copy', { repository: this.repository, path: request.path, error });
      return { found: true, asset: this.assets.toAsset(row), cache: 'STALE' };
    }
    if (isRegistryError(error) && (error.code === 'UPSTREAM_TIMEOUT' || error.code === 'UPSTREAM_FAILED' || error.code === 'UPSTREAM_BLOCKED' || error.status === 413)) {
      throw error;
    }
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

  async passthrough(request: UpstreamPassthrough): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
    const url = this.resolve(request.upstreamUrl);
    try {
      const response = await this.client.request(url, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        checkRedirect: this.checkRedirect,
      });
      const body = await readBody(response.body, request.maxBytes ?? 16 * 1024 * 1024);
      const headers: Record<string, string> = {};
      response.headers.forEach((value, key) => (headers[key] = value));
      return { status: response.status, headers, body };
    } catch (error) {
      if (isRegistryError(error)) throw error;
      throw new UpstreamTimeoutError(`upstream failed: ${(error as Error).message}`);
    }
  }
}
