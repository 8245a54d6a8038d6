// Helpers of this plugin's tests on the real kernel (@registry-core/testing's createTestHost):
// requests as npm sends them, answers as npm reads them, and a static npm mirror to proxy.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestHost } from '@registry-core/testing';

/** This plugin's package folder, as the kernel loads it (its `dist/`: build first). */
export const NPM_PLUGIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A request to one repository of a test host. */
export interface NpmRequest {
  readonly method?: string;
  /** Path inside the repository, sent exactly as written (percent-encoding kept), may carry a query. */
  readonly path: string;
  readonly headers?: Record<string, string>;
  /** A Buffer is sent as is; anything else as JSON (a string too: `"1.0.0"`, as npm sends a dist-tag). */
  readonly body?: unknown;
  /** A token: sent as `Authorization: Bearer`. */
  readonly token?: string;
}

/** An answer as a client sees it. */
export interface NpmAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly contentType?: string;
  readonly bytes: Buffer;
  /** The body parsed as JSON when it is JSON. */
  readonly json: any;
}

/** Send `request` to repository `repo` of `host`, the path untouched. */
export async function npmRequest(host: TestHost, repo: string, request: NpmRequest): Promise<NpmAnswer> {
  const headers: Record<string, string> = { ...request.headers };
  if (request.token !== undefined) headers['authorization'] = `Bearer ${request.token}`;
  let body: Buffer | undefined;
  if (Buffer.isBuffer(request.body)) body = request.body;
  else if (request.body !== undefined) {
    body = Buffer.from(JSON.stringify(request.body));
    headers['content-type'] ??= 'application/json';
  }
  const answer = await host.rawRequest(`/${repo}${request.path}`, { method: request.method ?? 'GET', headers, ...(body ? { body } : {}) });
  const flat = Object.fromEntries(Object.entries(answer.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]));
  let json: unknown;
  try {
    json = answer.body.length ? JSON.parse(answer.body.toString('utf8')) : undefined;
  } catch {
    json = undefined;
  }
  return { status: answer.status, headers: flat, contentType: flat['content-type'], bytes: answer.body, json };
}

/** What a {@link StaticMirror} answers: a status and a body (JSON for an object). */
export interface MirrorAnswer {
  readonly status: number;
  readonly body?: Buffer | string | object;
}

/** A handler of a {@link StaticMirror}: the path below its base, still encoded, with any query. */
export type MirrorHandler = (path: string, method: string, body: Buffer) => MirrorAnswer;

/**
 * A plain HTTP npm mirror on loopback, as a static file server or a broken registry would
 * be (no ETag, no search unless the handler answers one): what a registry-core upstream
 * cannot produce. Records every request; `down` drops connections unanswered.
 */
export interface StaticMirror {
  /** `http://127.0.0.1:<port>/registry/`: the proxy's upstream. */
  readonly base: string;
  /** `METHOD path` of each request, the path below `base` as sent. */
  readonly requests: string[];
  handler: MirrorHandler;
  down: boolean;
  stop(): Promise<void>;
}

export async function startStaticMirror(handler: MirrorHandler): Promise<StaticMirror> {
  const prefix = '/registry/';
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '/';
      const relative = url.startsWith(prefix) ? url.slice(prefix.length) : url;
      mirror.requests.push(`${req.method ?? 'GET'} ${relative}`);
      if (mirror.down) {
        req.socket.destroy();
        return;
      }
      const answer = mirror.handler(relative, req.method ?? 'GET', Buffer.concat(chunks));
      const raw = answer.body;
      const isJson = raw !== undefined && !Buffer.isBuffer(raw) && typeof raw !== 'string';
      const bytes = raw === undefined ? Buffer.alloc(0) : Buffer.isBuffer(raw) ? raw : Buffer.from(typeof raw === 'string' ? raw : JSON.stringify(raw));
      res.writeHead(answer.status, { 'content-type': isJson ? 'application/json' : 'application/octet-stream', 'content-length': bytes.length });
      res.end(bytes);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}${prefix}`;
  let stopped: Promise<void> | undefined;
  const mirror: StaticMirror = {
    base,
    requests: [],
    handler,
    down: false,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
  return mirror;
}
