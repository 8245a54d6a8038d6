import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { LookupFunction, Socket } from 'node:net';
import { PassThrough, type Readable } from 'node:stream';
import { UpstreamError, UpstreamRefusedError, UpstreamTimeoutError, isRegistryError } from '@registry-core/api';
import { classifyAddress } from './address-policy.js';
import { ConnectionSlots, acquireBoth } from './connection-slots.js';
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
   * The time budget of a whole body, in milliseconds: `transferTimeoutMs` plus a second
   * for every `minTransferRate` bytes received so far (time the consumer holds the body
   * back does not count). A body over budget is cut with a timeout error, so an upstream
   * that trickles cannot hold a download for hours. Absent: no budget.
   */
  readonly transferTimeoutMs?: number;
  /** Bytes per second that extend the budget; 0 or absent: the budget is `transferTimeoutMs` flat. */
  readonly minTransferRate?: number;
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
  /**
   * Most connections open at once to one origin (`cache.maxUpstreamConnections`); a request
   * waits for a free one up to `headersTimeoutMs`. Absent: no limit of its own.
   */
  readonly maxConnectionsPerOrigin?: number;
  /** The registry-wide limit every proxy shares (`server.maxUpstreamConnections`). */
  readonly globalSlots?: ConnectionSlots;
  /**
   * The `Via` value every upstream request carries (`1.1 registry-core-<instance>`): a
   * request that comes back to this registry with it is a loop, refused with 508.
   */
  readonly via?: string;
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

/** A refusal by policy (an origin not allowed, a private address): never retried. Part of the contract. */
export { UpstreamRefusedError };

const MAX_REDIRECTS = 5;
/** How long an idle pooled connection is kept. */
const KEEP_ALIVE_MS = 4000;
/** setTimeout's largest delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

// Never forwarded, whoever asks: the client's own credentials and cookies among them, so no
// upstream request carries credentials (the config has none for upstreams either).
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'authorization', 'cookie', 'accept-encoding']);

/**
 * HTTP to one upstream, on Node's own `http`/`https` client with a keep-alive connection
 * pool of its own (undici 7 could end the process with an uncatchable assertion when an
 * upstream closed its connection while a body was held back, undici issue 5360; the fix
 * needs undici 8, which needs a newer Node). Timeouts become {@link UpstreamTimeoutError},
 * network and protocol failures {@link UpstreamError}, policy refusals
 * {@link UpstreamRefusedError}; a body that stalls or overruns its time budget is destroyed
 * with a timeout error.
 *
 * Connections to any host but the configured upstream's are vetted on the address actually
 * connected to (in the DNS lookup of the connection, so a name that resolves once to a
 * public address and then to a private one cannot slip through), unless
 * `allowPrivateAddresses` is set.
 */
export class UpstreamClient {
  private readonly http: HttpAgent;
  private readonly https: HttpsAgent;
  private readonly trusted: string;
  private readonly lookup: LookupFunction | undefined;
  private closed = false;
  /** Requests and bodies in flight, so `close` can give them a moment. */
  private readonly active = new Set<{ destroy(error?: Error): unknown }>();
  private idle: (() => void) | undefined;
  /** Tokens bought from the upstream's token service, by realm, service and scope. */
  private readonly tokens = new Map<string, { readonly value: string; readonly until: number }>();
  /** The upstream's token service, once a Bearer challenge named it. */
  private bearer: { readonly realm: string; readonly service?: string } | undefined;
  /** Connection slots by origin (the upstream, allowed origins: a set the config bounds). */
  private readonly slots = new Map<string, ConnectionSlots>();

  constructor(private readonly options: UpstreamClientOptions) {
    this.trusted = bareHost(options.upstream.hostname);
    this.lookup = options.allowPrivateAddresses ? undefined : guardedLookup(this.trusted);
    // Idle pooled connections are closed after 4 s (or the server's keep-alive hint if shorter).
    const pool = { keepAlive: true, timeout: KEEP_ALIVE_MS, scheduling: 'lifo' as const };
    this.http = new HttpAgent(pool);
    this.https = new HttpsAgent(pool);
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
    if (this.options.via) headers['via'] = this.options.via;
    if (options.body && headers['content-length'] === undefined) headers['content-length'] = String(options.body.length);
    let target = url;
    for (let hop = 0; ; hop++) {
      if (options.authorization && target.origin === authorizedOrigin) headers['authorization'] = options.authorization;
      else delete headers['authorization'];
      const { response, release } = await this.exchange(target, options.method ?? 'GET', headers, options.body);
      const location = response.headers['location'];
      if (!REDIRECTS.has(response.statusCode ?? 0) || typeof location !== 'string' || !location) {
        return { status: response.statusCode ?? 0, headers: toHeaders(response.rawHeaders), body: this.watch(response, target.origin, release) };
      }
      // Read to the end (under the same watch) so the connection can be reused.
      this.watch(response, target.origin, release).resume();
      if (hop >= MAX_REDIRECTS) throw new UpstreamError(`upstream ${url.origin} redirected more than ${MAX_REDIRECTS} times`);
      try {
        target = new URL(location, target);
      } catch {
        throw new UpstreamError(`upstream ${target.origin} redirected to an invalid location`);
      }
      options.checkRedirect(target);
    }
  }

  /**
   * One HTTP exchange up to the response headers, on a connection slot of the target's
   * origin and of the registry (`release` gives them back: the caller's, once the body is
   * done). A pooled connection the server closed just as it was reused is retried once on
   * a fresh one (the request never reached the server).
   */
  private async exchange(target: URL, method: string, headers: Record<string, string>, body: Buffer | undefined): Promise<{ response: IncomingMessage; release: () => void }> {
    if (this.closed) throw new UpstreamError(`upstream ${target.origin}: the registry is stopping`);
    if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new UpstreamRefusedError(`refusing upstream URL ${target.protocol}: only http and https`);
    // An IP literal is never looked up: check it here.
    const host = bareHost(target.hostname);
    const kind = this.options.allowPrivateAddresses || host === this.trusted ? undefined : classifyAddress(host);
    if (kind) throw refusal(host, host, kind);
    const release = await this.slotFor(target.origin);
    for (let attempt = 0; ; attempt++) {
      try {
        return { response: await this.once(target, method, headers, body), release };
      } catch (error) {
        const stale = (error as { reusedSocket?: boolean }).reusedSocket && ['ECONNRESET', 'EPIPE'].includes((error as { code?: string }).code ?? '');
        if (!stale || attempt > 0) {
          release();
          throw this.failure(error, target.origin);
        }
      }
    }
  }

  /** A connection slot for `origin` (and the registry-wide one), waiting at most the headers timeout. */
  private slotFor(origin: string): Promise<() => void> {
    const limit = this.options.maxConnectionsPerOrigin;
    if (limit === undefined) return this.options.globalSlots ? this.options.globalSlots.acquire(this.options.headersTimeoutMs) : Promise.resolve(() => undefined);
    let slots = this.slots.get(origin);
    if (!slots) this.slots.set(origin, (slots = new ConnectionSlots(limit, 'cache.maxUpstreamConnections')));
    return acquireBoth(slots, this.options.globalSlots, this.options.headersTimeoutMs);
  }

  private once(target: URL, method: string, headers: Record<string, string>, body: Buffer | undefined): Promise<IncomingMessage> {
    const tls = target.protocol === 'https:';
    return new Promise<IncomingMessage>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let request: ClientRequest;
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.untrack(request);
        reject(error);
      };
      const abort = (error: Error) => {
        fail(error);
        request.destroy(error);
      };
      request = (tls ? httpsRequest : httpRequest)(
        {
          agent: tls ? this.https : this.http,
          protocol: target.protocol,
          hostname: bareHost(target.hostname),
          port: target.port || (tls ? 443 : 80),
          path: `${target.pathname}${target.search}`,
          method,
          headers,
          ...(this.lookup ? { lookup: this.lookup } : {}),
        },
        (response) => {
          if (settled) return void response.destroy();
          settled = true;
          clearTimeout(timer);
          this.untrack(request);
          resolve(response);
        },
      );
      this.track(request);
      request.on('error', (error: Error & { reusedSocket?: boolean }) => {
        error.reusedSocket = request.reusedSocket;
        fail(error);
      });
      // Closed with neither an answer nor an error (a 101 nobody asked for, for one).
      request.on('close', () => fail(new UpstreamError(`upstream ${target.origin} closed the connection without an answer`)));
      const waitHeaders = () => {
        clearTimeout(timer);
        timer = setTimeout(() => abort(new UpstreamTimeoutError(`upstream ${target.origin} did not answer within ${this.options.headersTimeoutMs} ms`)), this.options.headersTimeoutMs);
      };
      timer = setTimeout(() => abort(new UpstreamTimeoutError(`upstream ${target.origin} did not accept a connection within ${this.options.connectTimeoutMs} ms`)), this.options.connectTimeoutMs);
      request.on('socket', (socket: Socket) => {
        if (request.reusedSocket || !socket.connecting) waitHeaders();
        else socket.once(tls ? 'secureConnect' : 'connect', waitHeaders);
      });
      request.end(body);
    });
  }

  private track(item: { destroy(error?: Error): unknown }): void {
    this.active.add(item);
  }

  private untrack(item: { destroy(error?: Error): unknown }): void {
    this.active.delete(item);
    if (this.active.size === 0) this.idle?.();
  }

  /** Close the idle connections; requests still running get a second to finish. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.active.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.idle = resolve;
        timer = setTimeout(resolve, 1000);
      });
      clearTimeout(timer);
      for (const item of [...this.active]) item.destroy(new UpstreamError('the registry is stopping'));
    }
    this.http.destroy();
    this.https.destroy();
  }

  /**
   * The body as the caller gets it: errors mapped to registry errors, cut when it stalls for
   * `idleTimeoutMs` or overruns its time budget (`transferTimeoutMs` plus a second per
   * `minTransferRate` bytes). Neither clock runs while the consumer holds the body back.
   */
  private watch(source: IncomingMessage, origin: string, release: () => void): Readable {
    const body = new PassThrough();
    // A body that breaks before its consumer attaches must not crash the process; the
    // consumer sees the error through `errored` (pipeline, finished) when it does attach.
    body.on('error', () => undefined);
    const { idleTimeoutMs, transferTimeoutMs, minTransferRate } = this.options;
    let received = 0;
    let lastData = Date.now();
    /** Milliseconds spent receiving (not held back), up to `since`. */
    let spent = 0;
    let since: number | undefined = Date.now();
    let timer: NodeJS.Timeout | undefined;
    let ended = false;
    const entry = { destroy: (error?: Error) => finish(error ?? new UpstreamError(`upstream ${origin}: download abandoned`)) };
    this.track(entry);
    const finish = (error?: Error) => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      this.untrack(entry);
      release();
      if (error) {
        body.destroy(error);
        source.destroy();
      } else body.end();
    };
    const check = () => {
      timer = undefined;
      if (ended || since === undefined) return;
      const now = Date.now();
      if (now - lastData >= idleTimeoutMs) return finish(new UpstreamTimeoutError(`upstream ${origin} stalled for ${idleTimeoutMs} ms`));
      let wait = idleTimeoutMs - (now - lastData);
      if (transferTimeoutMs !== undefined) {
        const budget = transferTimeoutMs + (minTransferRate ? (received / minTransferRate) * 1000 : 0);
        const used = spent + (now - since);
        if (used >= budget) {
          return finish(
            new UpstreamTimeoutError(
              `upstream ${origin} sent ${received} bytes in ${Math.round(used / 1000)} s, over its time budget (cache.transferTimeout ${transferTimeoutMs / 1000} s${minTransferRate ? ` plus a second per ${minTransferRate} bytes, cache.minTransferRate` : ''})`,
            ),
          );
        }
        wait = Math.min(wait, budget - used);
      }
      timer = setTimeout(check, Math.min(Math.max(wait, 1), MAX_TIMER_MS));
    };
    const hold = () => {
      if (since !== undefined) spent += Date.now() - since;
      since = undefined;
      clearTimeout(timer);
      timer = undefined;
      source.pause();
    };
    const go = () => {
      if (ended) return;
      since = Date.now();
      lastData = since;
      if (!timer) check();
      source.resume();
    };
    source.on('data', (chunk: Buffer) => {
      received += chunk.length;
      lastData = Date.now();
      if (!body.write(chunk)) hold();
    });
    body.on('drain', go);
    source.on('end', () => finish());
    source.on('error', (error) => finish(this.failure(error, origin)));
    source.on('close', () => {
      if (!source.complete) finish(new UpstreamError(`upstream ${origin} closed the connection before the body ended`));
    });
    body.on('close', () => {
      if (!ended) finish(new UpstreamError(`upstream ${origin}: the reader went away`));
    });
    check();
    return body;
  }

  private failure(error: unknown, origin: string): Error {
    if (isRegistryError(error)) return error;
    const code = (error as { code?: string }).code;
    const nested = (error as { errors?: { code?: string }[] }).errors?.[0]?.code;
    const reason = code ?? nested ?? (error as Error).message;
    return new UpstreamError(`upstream ${origin} failed: ${reason}${code && code.startsWith('HPE_') ? ` (${(error as Error).message})` : ''}`, { cause: error });
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

function toHeaders(raw: readonly string[]): Headers {
  const headers = new Headers();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    try {
      headers.append(raw[i]!, raw[i + 1]!);
    } catch {
      // a name or value Headers refuses: drop it
    }
  }
  return headers;
}
