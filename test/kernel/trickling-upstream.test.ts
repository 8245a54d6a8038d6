// An upstream that trickles (a byte now and then, never idle long enough for the idle
// timeout) cannot hold a download open without end: every upstream body has a time budget,
// `cache.transferTimeout` plus a second per `cache.minTransferRate` bytes received. Over
// it the download is cut, nothing is cached, and the client gets a 504 (or, for a body
// already streaming, a cut response).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

const plugin = path.join(repoRoot, 'examples', 'raw-format-plugin');
/** What a trickled file announces: at a byte every 50 ms, 20 s to send it all. */
const LENGTH = 400;

describe('a trickling upstream', () => {
  let upstream: Server;
  let registry: RunningRegistry;
  const hits = new Map<string, number>();

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      const p = req.url ?? '/';
      hits.set(p, (hits.get(p) ?? 0) + 1);
      if (p.startsWith('/trickle/')) {
        // A byte every 50 ms: far inside the idle timeout, far outside any sane budget.
        res.writeHead(200, { 'content-type': 'application/octet-stream', ...(p.includes('unsized') ? {} : { 'content-length': LENGTH }) });
        let sent = 0;
        const timer = setInterval(() => {
          if (res.destroyed || sent >= LENGTH) {
            clearInterval(timer);
            res.end();
            return;
          }
          res.write('x');
          sent++;
        }, 50);
        res.on('close', () => clearInterval(timer));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(`content of ${p}`);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', () => resolve()));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/`;
    // A budget of half a second plus a second per 100 bytes: the trickle (20 bytes/s) runs
    // out of it after a few bytes; the idle timeout (60 s) would never cut it.
    registry = await startRegistry(`
plugins: ["${plugin}"]
repositories:
  raw: { format: raw, type: proxy, upstream: "${url}", cache: { retries: 0, transferTimeout: 0.5, minTransferRate: 100 } }
`);
  });
  afterAll(async () => {
    await registry?.stop();
    upstream?.closeAllConnections();
    upstream?.close();
  });

  it('is cut once over its time budget: a 504, nothing cached, asked again next time', async () => {
    for (const file of ['/trickle/sized.bin', '/trickle/unsized.bin']) {
      const first = await fetch(`${registry.url}/raw${file}`);
      const text = await first.text();
      expect(first.status, text).toBe(504);
      expect(text).toMatch(/UPSTREAM_TIMEOUT/);
      expect(text).toMatch(/time budget/);
      const again = await fetch(`${registry.url}/raw${file}`);
      expect(again.status).toBe(504);
      await again.text();
      expect(hits.get(file)).toBe(2);
    }
  });

  it('leaves bodies that arrive at a normal pace alone', async () => {
    const res = await fetch(`${registry.url}/raw/plain.bin`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('content of /plain.bin');
    expect((await fetch(`${registry.url}/raw/plain.bin`)).headers.get('x-cache')).toBe('HIT');
  });
});
