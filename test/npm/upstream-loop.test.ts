// A proxy whose upstream is the registry itself, directly or through another hop; the cap on
// open upstream connections; and `npm audit` when the upstream's audit endpoint fails (npm
// must report a failed audit, never "found 0 vulnerabilities").
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { NpmClient } from '../helpers/npm-client.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

const servers: Server[] = [];
const registries: RunningRegistry[] = [];
afterEach(async () => {
  await Promise.all(registries.splice(0).map((r) => r.stop()));
});
afterAll(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; port: number; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  servers.push(server);
  const port = (server.address() as AddressInfo).port;
  return { server, port, url: `http://127.0.0.1:${port}` };
}

/** A port free right now (the registry is started on it next). */
async function freePort(): Promise<number> {
  const { server, port } = await serve(() => undefined);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  servers.splice(servers.indexOf(server), 1);
  return port;
}

describe('a proxy whose upstream is this registry', () => {
  it('is refused at start, naming the repository', async () => {
    const port = await freePort();
    const started = startRegistry(`
repositories:
  npm-local: { format: npm, type: hosted }
  npm-proxy: { format: npm, type: proxy, upstream: "http://localhost:${port}/npm-local/" }
`, { port });
    // (Should it start after all, it is stopped like the others.)
    void started.then((r) => registries.push(r), () => undefined);
    await expect(started).rejects.toThrow(/repositories\.npm-proxy\.upstream: http:\/\/localhost:\d+\/npm-local\/ is this registry itself/);
  });

  it('through another hop: the request that comes back is refused with 508, once, for reads and audits alike', async () => {
    // A forwarding proxy as nginx would be one: every header passed on, Via included.
    let target = 0;
    let forwarded = 0;
    const hop = await serve((req, res) => {
      forwarded++;
      const out = request({ host: '127.0.0.1', port: target, path: req.url, method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      out.on('error', () => res.writeHead(502).end());
      req.pipe(out);
    });
    const registry = await startRegistry(`
repositories:
  npm-proxy: { format: npm, type: proxy, upstream: "${hop.url}/npm-proxy/", cache: { retries: 0, upstreamTimeout: 10 } }
`);
    registries.push(registry);
    target = registry.port;
    const read = await fetch(`${registry.url}/npm-proxy/left-pad`);
    expect(read.status).toBe(502);
    expect(await read.text()).toMatch(/508/);
    expect(forwarded).toBe(1);
    const audit = await fetch(`${registry.url}/npm-proxy/-/npm/v1/security/advisories/bulk`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"left-pad":["1.3.0"]}' });
    expect(audit.status).toBe(502);
    expect(forwarded).toBe(2);
    expect(registry.output()).toMatch(/refused a request this registry sent upstream itself/);
  });
});

describe('open upstream connections', () => {
  it('are at most cache.maxUpstreamConnections; the other misses wait and are all answered', async () => {
    const held: ServerResponse[] = [];
    const state = { open: 0, most: 0 };
    let onHeld: (() => void) | undefined;
    const upstream = await serve((req, res) => {
      held.push(res);
      onHeld?.();
    });
    upstream.server.on('connection', (socket) => {
      state.open++;
      state.most = Math.max(state.most, state.open);
      socket.on('close', () => state.open--);
    });
    const holding = (n: number) => new Promise<void>((resolve) => (held.length >= n ? resolve() : (onHeld = () => held.length >= n && resolve())));
    const registry = await startRegistry(`
repositories:
  npm-proxy: { format: npm, type: proxy, upstream: "${upstream.url}/", cache: { maxUpstreamConnections: 2, retries: 0 } }
`);
    registries.push(registry);
    const misses = Promise.all(Array.from({ length: 6 }, (_, i) => fetch(`${registry.url}/npm-proxy/pkg-${i}`).then((r) => r.status)));
    let answered = 0;
    while (answered < 6) {
      await holding(1);
      // Whoever is held answers 404 (what the upstream lacks); the next waiting miss goes up.
      held.shift()!.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      answered++;
    }
    expect(await misses).toEqual(Array(6).fill(404));
    expect(state.most).toBeLessThanOrEqual(2);
  });
});

describe('npm audit through a proxy whose upstream audit fails', () => {
  it('makes npm report a failed audit, not "found 0 vulnerabilities"', async () => {
    let audits = 0;
    const upstream = await serve((req, res) => {
      if (req.method === 'POST' && req.url?.includes('/security/')) {
        audits++;
        req.resume();
        res.writeHead(500, { 'content-type': 'text/plain' }).end('audit backend down');
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
    });
    const registry = await startRegistry(`
repositories:
  npm-proxy: { format: npm, type: proxy, upstream: "${upstream.url}/", cache: { retries: 0 } }
`);
    registries.push(registry);
    const npm = new NpmClient(`${registry.url}/npm-proxy/`);
    const project = path.join(npm.home, 'app');
    mkdirSync(project);
    const tarball = `${registry.url}/npm-proxy/left-pad/-/left-pad-1.3.0.tgz`;
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', dependencies: { 'left-pad': '1.3.0' } }));
    writeFileSync(
      path.join(project, 'package-lock.json'),
      JSON.stringify({
        name: 'app',
        version: '1.0.0',
        lockfileVersion: 3,
        requires: true,
        packages: { '': { name: 'app', version: '1.0.0', dependencies: { 'left-pad': '1.3.0' } }, 'node_modules/left-pad': { version: '1.3.0', resolved: tarball } },
      }),
    );
    const result = await npm.npm(['audit', '--package-lock-only'], project);
    expect(audits).toBeGreaterThan(0);
    expect(result.stdout).not.toMatch(/found 0 vulnerabilities/);
    expect(result.code).not.toBe(0);
    expect(`${result.stdout}${result.stderr}`).toMatch(/audit endpoint returned an error/);
  });
});
