import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A reverse proxy to `target` that counts requests per path (how many reached the upstream)
 * and keeps each request's path and Accept header in order.
 */
export async function countingProxy(target: string): Promise<{ server: Server; url: string; counts: Map<string, number>; requests: { url: string; accept: string | undefined }[] }> {
  const counts = new Map<string, number>();
  const requests: { url: string; accept: string | undefined }[] = [];
  const base = new URL(target);
  const server = createServer((req, res) => {
    counts.set(req.url!, (counts.get(req.url!) ?? 0) + 1);
    requests.push({ url: req.url!, accept: req.headers.accept });
    const forward = httpRequest(new URL(base.pathname.replace(/\/$/, '') + req.url, base), { method: req.method, headers: { accept: req.headers.accept ?? '*/*' } }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, counts, requests };
}
