import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { PassThrough, type Readable } from 'node:stream';
import { UpstreamError, UpstreamTimeoutError, isRegistryError } from '@registry-core/api';
import { Agent, buildConnector } from 'undici';
import { classifyAddress } from './address-policy.js';
import { readLimited } from './read-limited.js';

/** An upstream answer whose body is still a stream. */
export interface UpstreamResponse {
  readonly status: number;
  readonly headers: Headers;
  /** The body; the caller must consume or destroy it. */
  readonly body: Readable;
}

export interface UpstreamRequestOptions {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer;
  /**
   * `Authorization` for the request's own origin (configured upstream credentials or a
   * token they bought): never sent after a redirect to another origin (a CDN).
   */
  readonly authorization?: string;
  /** The token scope to present once the upstream is known to use Bearer tokens. */
  readonly tokenScope?: string;
  /**
   * Vets every redirect target (throw to refuse). Redirects are followed by hand, at most
   * five, so a hostile upstream cannot bounce the registry to an internal address.
   */
  readonly checkRedirect: (target: URL) => void;
}

/** How one proxy repository talks to its upstream (from its `cache` block). */
export interface UpstreamClientOptions {
  /** The configured upstream. Its host is trusted as written, private address or not. */
  readonly upstream: URL;
  /** Milliseconds a TCP (and TLS) connection may take to open. */
  readonly connectTimeoutMs: number;
  /** Milliseconds until the response headers must have arrived, per request (and per redirect hop). */
  readonly headersTimeoutMs: number;
  /** Milliseconds the body may stall between two chunks (not counting the consumer's own backpressure). */
  readonly idleTimeoutMs: number;
  /**
   * Let connections to hosts other than the upstream's own (allowed origins, redirect
   * targets) reach loopback, link-local, private and CGNAT addresses.
   */
  readonly allowPrivateAddresses: boolean;
  /**
   * The repository's `upstreamAuth`: sent to the upstream's own origin (Basic, or Bearer for
   * a token), and used to buy a token when the upstream answers 401 with a Bearer challenge
   * (the Docker registry token flow). Never sent anywhere else.
   */
  readonly credentials?: UpstreamCredentials;
}

/** Credentials of a proxy for its upstream (`upstreamAuth`). */
export type UpstreamCredentials = { readonly username: string; readonly password: string } | { readonly token: string };

/** A Bearer challenge's parameters (`realm`, `service`, `scope`), lower-case names. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  const params: Record<string, string> = {};
  for (const p of (m?.[2] ?? '').matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) params[p[1]!.toLowerCase()] = p[2] ?? p[3] ?? '';
  return { scheme: (m?.[1] ?? '').toLowerCase(), params };
}

/** Most tokens kept per proxy (by realm, service and scope). */
const MAX_TOKENS = 10_000;

/**
 * A refusal by policy (an origin not allowed, a private address): never retried, since
 * asking again gives the same answer.
 */
export class UpstreamRefusedError extends UpstreamError {}

const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

// Never forwarded, whoever asks: the client's own credentials and cookies among them, so no
// upstream request carries credentials (the config has none for upstreams either).
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'authorization', 'cookie', 'accept-encoding']);

/**
 * HTTP to one upstream, on undici with a keep-alive connection pool of its own. Timeouts
 * become {@link UpstreamTimeoutError}, network failures {@link UpstreamError}, policy
 * refusals {@link UpstreamRefusedError}; a body that stalls is destroyed with a timeout error.
 *
 * Connections to any host but the configured upstream's are vetted on the address actually
 * connected to (in the DNS lookup of the connection, so a name that resolves once to a
 * public address and then to a private one cannot slip through), unless
 * `allowPrivateAddresses` is set.
 */
export class UpstreamClient {
  private readonly agent: Agent;
  private closed = false;
  /** Tokens bought from the upstream's token service, by realm, service and scope. */
  private readonly tokens = new Map<string, { readonly value: string; readonly until: number }>();
  /** The upstream's token service, once a Bearer challenge named it. */
  private bearer: { readonly realm: string; readonly service?: string } | undefined;

  constructor(private readonly options: UpstreamClientOptions) {
    const trusted = bareHost(options.upstream.hostname);
    const lookup = options.allowPrivateAddresses ? undefined : guardedLookup(trusted);
    const base = buildConnector({ timeout: options.connectTimeoutMs, ...(lookup ? { lookup } : {}) });
    const connect: buildConnector.connector = options.allowPrivateAddresses
      ? base
      : (connectOptions, callback) => {
          // An IP literal is never looked up: check it here.
          const host = bareHost(connectOptions.hostname);
          const kind = host === trusted ? undefined : classifyAddress(host);
          if (kind) callback(refusal(host, host, kind), null);
          else base(connectOptions, callback);
        };
    this.agent = new Agent({ connect, headersTimeout: options.headersTimeoutMs, bodyTimeout: options.idleTimeoutMs });
  }

  /**
   * A request with the proxy's credentials: its explicit `authorization`, else the
   * configured `upstreamAuth` (or a token bought with it). An upstream on its own origin
   * answering 401 with a Bearer challenge gets one token request at its realm (an allowed
   * origin only), with the configured credentials if any, and the request once more.
   */
  async request(url: URL, options: UpstreamRequestOptions): Promise<UpstreamResponse> {
    if (url.origin !== this.options.upstream.origin || options.authorization) return this.send(url, options);
    // A token for the request's scope straight away once the upstream is known to want one.
    const bought = this.bearer !== undefined && options.tokenScope !== undefined;
    const authorization = bought ? `Bearer ${await this.token({ ...this.bearer!, scope: options.tokenScope! }, options.checkRedirect)}` : this.configuredAuthorization();
    const first = await this.send(url, authorization ? { ...options, authorization } : options);
    if (first.status !== 401) return first;
    const challenge = first.headers.get('www-authenticate');
    const parsed = challenge ? parseChallenge(challenge) : undefined;
    const realm = parsed?.params['realm'];
    if (parsed?.scheme !== 'bearer' || !realm) return first;
    this.bearer = { realm, ...(parsed.params['service'] ? { service: parsed.params['service'] } : {}) };
    const scope = parsed.params['scope'] || options.tokenScope;
    // A fresh token when a bought one was just refused (revoked before it expired).
    const token = await this.token({ ...this.bearer, ...(scope ? { scope } : {}) }, options.checkRedirect, bought).catch((error: unknown) => {
      first.body.destroy();
      throw error;
    });
    first.body.resume();
    return this.send(url, { ...options, authorization: `Bearer ${token}` });
  }

  private configuredAuthorization(): string | undefined {
    const credentials = this.options.credentials;
    if (!credentials) return undefined;
    if ('token' in credentials) return `Bearer ${credentials.token}`;
    return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
  }

  /** A token from the challenge's realm (cached until it expires). */
  private async token(params: { readonly realm: string; readonly service?: string; readonly scope?: string }, checkRealm: (target: URL) => void, fresh = false): Promise<string> {
    let realm: URL;
    try {
      realm = new URL(params.realm, this.options.upstream);
    } catch {
      throw new UpstreamError(`upstream ${this.options.upstream.origin} named an invalid token service`);
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') throw new UpstreamError(`upstream ${this.options.upstream.origin} named a token service that is not http(s)`);
    if (params.service) realm.searchParams.set('service', params.service);
    if (params.scope) realm.searchParams.set('scope', params.scope);
    const key = realm.href;
    const cached = this.tokens.get(key);
    if (!fresh && cached && cached.until > Date.now()) return cached.value;
    // Only to the upstream's own origin (any path) or an allowed one (vetted as a redirect is).
    if (realm.origin !== this.options.upstream.origin) checkRealm(realm);
    const credentials = this.options.credentials;
    const basic = credentials && 'username' in credentials ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}` : undefined;
    const answer = await this.send(realm, { checkRedirect: checkRealm, ...(basic ? { authorization: basic } : {}) }, realm.origin);
    if (answer.status !== 200) {
      answer.body.resume();
      throw new UpstreamError(`the upstream's token service ${realm.origin} answered ${answer.status}${credentials ? '' : ' (no upstreamAuth is configured)'}`);
    }
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse((await readBody(answer.body, 1024 * 1024)).toString('utf8')) as typeof parsed;
    } catch {
      throw new UpstreamError(`the upstream's token service ${realm.origin} answered no JSON`);
    }
    const token = typeof parsed.token === 'string' ? parsed.token : typeof parsed.access_token === 'string' ? parsed.access_token : undefined;
    if (!token || !/^[\x21-\x7e]+$/.test(token)) throw new UpstreamError(`the upstream's token service ${realm.origin} sent no usable token`);
    const seconds = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : 60;
    if (this.tokens.size >= MAX_TOKENS) this.tokens.clear();
    this.tokens.set(key, { value: token, until: Date.now() + Math.max(1, seconds - 10) * 1000 });
    return token;
  }

  /**
   * One request, redirects followed by hand. `authorization` goes to `authorizedOrigin`
   * only (the request's own origin by default), never after a redirect elsewhere.
   */
  private async send(url: URL, options: UpstreamRequestOptions, authorizedOrigin = url.origin): Promise<UpstreamResponse> {
    // Identity: measured with the npm benchmark, negotiating gzip with the upstream cost more
    // (decompression CPU and memory: peak RSS 400 MB instead of 346 MB) than it saved here.
    const headers: Record<string, string> = { 'user-agent': 'registry-core', 'accept-encoding': 'identity' };
    for (const [k, v] of Object.entries(options.headers ?? {})) if (!HOP_BY_HOP.has(k.toLowerCase())) headers[k.toLowerCase()] = v;
    let target = url;
    for (let hop = 0; ; hop++) {
      let response;
      if (options.authorization && target.origin === authorizedOrigin) headers['authorization'] = options.authorization;
      else delete headers['authorization'];
      try {
        response = await this.agent.request({
          origin: target.origin,
          path: `${target.pathname}${target.search}`,
          method: (options.method ?? 'GET') as 'GET',
          headers,
          body: options.body,
        });
      } catch (error) {
        throw this.failure(error, target.origin);
      }
      const location = response.headers['location'];
      if (!REDIRECTS.has(response.statusCode) || typeof location !== 'string' || !location) {
        return { status: response.statusCode, headers: toHeaders(response.headers), body: this.watch(response.body, target.origin) };
      }
      response.body.dump().catch(() => undefined);
      if (hop >= MAX_REDIRECTS) throw new UpstreamError(`upstream ${url.origin} redirected more than ${MAX_REDIRECTS} times`);
      try {
        target = new URL(location, target);
      } catch {
        throw new UpstreamError(`upstream ${target.origin} redirected to an invalid location`);
      }
      options.checkRedirect(target);
    }
  }

  /** Close the idle connections; requests still running get a second to finish. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    const closing = this.agent.close().then(() => true);
    const finished = await Promise.race([closing, new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), 1000)))]);
    clearTimeout(timer);
    if (!finished) await this.agent.destroy().catch(() => undefined);
  }

  /**
   * The body as the caller gets it: undici's errors mapped to registry errors. The stall
   * watch is undici's `bodyTimeout`, which does not fire while the consumer holds back.
   */
  private watch(source: Readable, origin: string): Readable {
    const body = new PassThrough();
    source.on('error', (error) => body.destroy(this.failure(error, origin)));
    // A body that breaks before its consumer attaches must not crash the process; the
    // consumer sees the error through `errored` (pipeline, finished) when it does attach.
    body.on('error', () => undefined);
    body.on('close', () => {
      if (!source.destroyed) source.destroy();
    });
    source.pipe(body);
    return body;
  }

  private failure(error: unknown, origin: string): Error {
    if (isRegistryError(error)) return error;
    const code = (error as { code?: string }).code;
    if (code === 'UND_ERR_CONNECT_TIMEOUT') return new UpstreamTimeoutError(`upstream ${origin} did not accept a connection within ${this.options.connectTimeoutMs} ms`, { cause: error });
    if (code === 'UND_ERR_HEADERS_TIMEOUT') return new UpstreamTimeoutError(`upstream ${origin} did not answer within ${this.options.headersTimeoutMs} ms`, { cause: error });
    if (code === 'UND_ERR_BODY_TIMEOUT') return new UpstreamTimeoutError(`upstream ${origin} stalled for ${this.options.idleTimeoutMs} ms`, { cause: error });
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return new UpstreamError(`upstream ${origin} failed: ${code ?? cause?.code ?? cause?.message ?? (error as Error).message}`, { cause: error });
  }
}

/** Read a whole (small) upstream body, refusing more than `maxBytes`. */
export function readBody(body: Readable, maxBytes: number): Promise<Buffer> {
  return readLimited(body, maxBytes, () => new UpstreamError(`upstream answer is larger than ${maxBytes} bytes`), () => body.destroy());
}

function bareHost(hostname: string): string {
  return (hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname).toLowerCase();
}

function refusal(host: string, address: string, kind: string): UpstreamRefusedError {
  const where = host === address ? address : `${host} (${address})`;
  return new UpstreamRefusedError(`refusing to connect to ${where}: a ${kind} address, and only the configured upstream may be one (cache.allowPrivateAddresses)`);
}

/** DNS lookup that keeps only public addresses for every host but `trusted`. */
function guardedLookup(trusted: string): LookupFunction {
  return (hostname, options, callback) => {
    if (bareHost(hostname) === trusted) {
      dnsLookup(hostname, options, callback);
      return;
    }
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      const usable = addresses.filter((a) => !classifyAddress(a.address));
      if (usable.length === 0) {
        const first = addresses[0];
        const err = first ? refusal(hostname, first.address, classifyAddress(first.address)!) : new UpstreamError(`${hostname} has no address`);
        return callback(err as unknown as NodeJS.ErrnoException, '', 0);
      }
      if (options.all) callback(null, usable);
      else callback(null, usable[0]!.address, usable[0]!.family);
    });
  };
}

function toHeaders(raw: Record<string, string | string[] | undefined>): Headers {
  const headers = new Headers();
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    try {
      if (Array.isArray(value)) for (const v of value) headers.append(key, v);
      else headers.append(key, value);
    } catch {
      // a value Headers refuses: drop it
    }
  }
  return headers;
}
