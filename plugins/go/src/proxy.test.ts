import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, type TestHost } from '@registry-core/testing';

// A proxy of a module proxy that resolves queries (a branch name) and serves a checksum
// database, as the public one does: a fixture server stands for it.
const plugin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('go proxy: queries and the checksum database', () => {
  let upstream: Server;
  let host: TestHost;
  const asked: string[] = [];
  let sumdbStatus = 200;

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      const url = req.url ?? '/';
      asked.push(url);
      const text = (status: number, body: string) => res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
      if (url === '/example.com/q/@v/main.info') return text(200, '{"Version":"v0.0.0-20240101120000-abcdef123456","Time":"2024-01-01T12:00:00Z"}');
      if (url === '/example.com/q/@v/lying.info') return text(200, '{"Version":"not a version"}');
      if (url === '/sumdb/sum.golang.org/supported') return text(sumdbStatus, '');
      if (url === '/sumdb/sum.golang.org/latest') return text(sumdbStatus, 'go.sum database tree\n');
      if (url === '/sumdb/sum.golang.org/tile/8/0/000.p/1') return text(sumdbStatus, 'x'.repeat(32));
      text(404, 'not found');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const { port } = upstream.address() as AddressInfo;
    host = await createTestHost({
      plugins: [plugin],
      repositories: {
        local: { format: 'go', type: 'hosted' },
        remote: { format: 'go', type: 'proxy', upstream: `http://127.0.0.1:${port}/`, cache: { retries: 0 } },
        all: { format: 'go', type: 'group', members: ['local', 'remote'] },
        'hosted-only': { format: 'go', type: 'group', members: ['local'] },
      },
    });
  });

  afterAll(async () => {
    await host?.stop();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  it('resolves a branch query through the upstream, as metadata; a hosted repository has none', async () => {
    const first = await fetch(`${host.repositoryUrl('all')}example.com/q/@v/main.info`);
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ Version: 'v0.0.0-20240101120000-abcdef123456', Time: '2024-01-01T12:00:00Z' });
    expect(first.headers.get('cache-control')).not.toMatch(/immutable/);
    expect((await fetch(`${host.repositoryUrl('local')}example.com/q/@v/main.info`)).status).toBe(404);
    // What the upstream answers for a query must name a version.
    expect((await fetch(`${host.repositoryUrl('remote')}example.com/q/@v/lying.info`)).status).toBe(502);
  });

  it('passes checksum database paths to the proxy, caching tiles; a hosted-only group has no database; a failing upstream is a 502', async () => {
    const supported = await fetch(`${host.repositoryUrl('all')}sumdb/sum.golang.org/supported`);
    expect(supported.status).toBe(200);
    expect(supported.headers.get('x-registry-member')).toBe('remote');
    const tile = await fetch(`${host.repositoryUrl('all')}sumdb/sum.golang.org/tile/8/0/000.p/1`);
    expect(await tile.text()).toBe('x'.repeat(32));
    expect((await fetch(`${host.repositoryUrl('local')}sumdb/sum.golang.org/supported`)).status).toBe(404);
    expect((await fetch(`${host.repositoryUrl('hosted-only')}sumdb/sum.golang.org/supported`)).status).toBe(502);
    sumdbStatus = 500;
    const cached = await fetch(`${host.repositoryUrl('remote')}sumdb/sum.golang.org/tile/8/0/000.p/1`);
    expect(cached.headers.get('x-cache')).toBe('HIT');
    expect((await fetch(`${host.repositoryUrl('remote')}sumdb/sum.golang.org/latest`)).status).toBe(502);
  });
});
