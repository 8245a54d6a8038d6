import { Readable, Transform } from 'node:stream';
import { UpstreamError, UpstreamTimeoutError, isRegistryError } from '@registry-core/api';
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
  /** Milliseconds until the response headers must have arrived. */
  readonly headersTimeoutMs: number;
  /** Milliseconds the body may stall between two chunks. */
  readonly idleTimeoutMs?: number;
  /**
   * Vets every redirect target (throw to refuse). Redirects are followed by hand, at most
   * five, so a hostile upstream cannot bounce the registry to an internal address.
   */
  readonly checkRedirect: (target: URL) => void;
}

const MAX_REDIRECTS = 5;

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'authorization', 'cookie', 'accept-encoding']);

/**
 * HTTP to upstreams, on Node's fetch. Timeouts become {@link UpstreamTimeoutError}, network
 * failures {@link UpstreamError}; a body that stalls is destroyed with a timeout error.
 */
export async function requestUpstream(url: URL, options: UpstreamRequestOptions): Promise<UpstreamResponse> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new UpstreamTimeoutError(`upstream ${url.origin} did not answer within ${options.headersTimeoutMs} ms`)), options.headersTimeoutMs);
  // Identity: measured with the npm benchmark, negotiating gzip with the upstream cost more
  // (decompression CPU and memory: peak RSS 400 MB instead of 346 MB) than it saved here.
  const headers: Record<string, string> = { 'user-agent': 'registry-core', 'accept-encoding': 'identity' };
  for (const [k, v] of Object.entries(options.headers ?? {})) if (!HOP_BY_HOP.has(k.toLowerCase())) headers[k.toLowerCase()] = v;
  let response: Response;
  try {
    let target = url;
    for (let hop = 0; ; hop++) {
      response = await fetch(target, {
        method: options.method ?? 'GET',
        headers,
        body: options.body,
        redirect: 'manual',
        signal: controller.signal,
      });
      const location = response.headers.get('location');
      if (![301, 302, 303, 307, 308].includes(response.status) || !location) break;
      await response.body?.cancel();
      if (hop >= MAX_REDIRECTS) throw new UpstreamError(`upstream ${url.origin} redirected more than ${MAX_REDIRECTS} times`);
      target = new URL(location, target);
      options.checkRedirect(target);
    }
  } catch (error) {
    if (isRegistryError(error)) {
      clearTimeout(timer);
      throw error;
    }
    clearTimeout(timer);
    if (controller.signal.aborted) throw controller.signal.reason;
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new UpstreamError(`upstream ${url.origin} failed: ${cause?.code ?? cause?.message ?? (error as Error).message}`, { cause: error });
  }
  clearTimeout(timer);
  const source = response!.body ? Readable.fromWeb(response.body as import('node:stream/web').ReadableStream) : Readable.from([]);
  // The stall watch is a pass-through, not a 'data' listener: a listener would set the body
  // flowing before its consumer is attached, and the bytes in between would be lost.
  const idle = options.idleTimeoutMs ?? 60_000;
  let idleTimer = setTimeout(onIdle, idle);
  function onIdle() {
    controller.abort();
    body.destroy(new UpstreamTimeoutError(`upstream ${url.origin} stalled for ${idle} ms`));
  }
  const body = new Transform({
    transform(chunk, _encoding, callback) {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(onIdle, idle);
      callback(null, chunk);
    },
  });
  source.on('error', (error) => body.destroy(error));
  // A body that breaks before its consumer attaches must not crash the process; the
  // consumer sees the error through `errored` (pipeline, finished) when it does attach.
  body.on('error', () => undefined);
  source.pipe(body);
  body.on('close', () => {
    clearTimeout(idleTimer);
    if (!source.destroyed) source.destroy();
  });
  return { status: response!.status, headers: response!.headers, body };
}

/** Read a whole (small) upstream body, refusing more than `maxBytes`. */
export function readBody(body: Readable, maxBytes: number): Promise<Buffer> {
  return readLimited(body, maxBytes, () => new UpstreamError(`upstream answer is larger than ${maxBytes} bytes`), () => body.destroy());
}
