import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback HTTP relay in front of an upstream: it forwards every request as it came (the
 * `Host` header included, so links the upstream writes point back through the relay),
 * records what was asked, and can be stopped to make the upstream unreachable.
 */
export interface UpstreamRelay {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly url: string;
  /** `METHOD path` of every request relayed so far, paths as sent. */
  readonly requests: readonly string[];
  /** Requests whose decoded path contains `text`. */
  asked(text: string): string[];
  /** Close the listener and every open connection: later requests are refused. */
  stop(): Promise<void>;
}

export async function startUpstreamRelay(target: string): Promise<UpstreamRelay> {
  const { hostname, port } = new URL(target);
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method ?? 'GET'} ${req.url ?? '/'}`);
    const forwarded = httpRequest({ hostname, port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forwarded.on('error', () => res.destroy());
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let stopped: Promise<void> | undefined;
  const decode = (value: string) => {
    try {
      return decodeURIComponent(value);
    } catch {
      return value;
    }
  };
  return {
    url,
    requests,
    asked: (text) => requests.filter((r) => decode(r).includes(text)),
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
