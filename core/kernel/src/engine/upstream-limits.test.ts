// The connection limits of upstream requests, the Via loop marker and the self-upstream
// check, against real HTTP servers on loopback.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionSlots, MAX_WAITING, UpstreamBusyError } from './connection-slots.js';
import { LoopMarker, selfUpstream } from './self-upstream.js';
import { UpstreamClient, readBody } from './upstream-client.js';

const servers: Server[] = [];
const clients: UpstreamClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

/** A server that holds every request until `release()`, counting the connections open at once. */
async function holdingServer() {
  const held: ServerResponse[] = [];
  const state = { open: 0, most: 0, requests: 0, via: [] as (string | undefined)[] };
  let waiter: (() => void) | undefined;
  let want = 0;
  const server = createServer((req: IncomingMessage, res) => {
    state.requests++;
    state.via.push(req.headers.via);
    held.push(res);
    if (held.length >= want) waiter?.();
  });
  server.on('connection', (socket) => {
    state.open++;
    state.most = Math.max(state.most, state.open);
    socket.on('close', () => state.open--);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  servers.push(server);
  return {
    state,
    port: (server.address() as AddressInfo).port,
    /** Resolves once `n` requests are held. */
    holding: (n: number) => new Promise<void>((resolve) => (held.length >= n ? resolve() : ((want = n), (waiter = resolve)))),
    release: () => held.splice(0).forEach((res) => res.end('done')),
  };
}

function client(port: number, options: { perOrigin?: number; global?: ConnectionSlots; via?: string; headersTimeoutMs?: number } = {}): UpstreamClient {
  const c = new UpstreamClient({
    upstream: new URL(`http://127.0.0.1:${port}/`),
    connectTimeoutMs: 5000,
    headersTimeoutMs: options.headersTimeoutMs ?? 20_000,
    idleTimeoutMs: 5000,
    allowPrivateAddresses: false,
    ...(options.perOrigin !== undefined ? { maxConnectionsPerOrigin: options.perOrigin } : {}),
    ...(options.global ? { globalSlots: options.global } : {}),
    ...(options.via ? { via: options.via } : {}),
  });
  clients.push(c);
  return c;
}

const get = async (c: UpstreamClient, url: string) => (await readBody((await c.request(new URL(url), { checkRedirect: () => undefined })).body, 1024)).toString();

describe('upstream connection limits', () => {
  it('opens at most maxConnectionsPerOrigin connections; the other requests wait their turn and are all answered', async () => {
    const upstream = await holdingServer();
    const c = client(upstream.port, { perOrigin: 3 });
    const answers = Promise.all(Array.from({ length: 12 }, (_, i) => get(c, `http://127.0.0.1:${upstream.port}/p${i}`)));
    await upstream.holding(3);
    // Whatever else was asked waits: give the client every chance to open more.
    await new Promise((r) => setImmediate(r));
    expect(upstream.state.requests).toBe(3);
    for (let round = 0; round < 4; round++) {
      await upstream.holding(3);
      upstream.release();
    }
    expect(await answers).toEqual(Array(12).fill('done'));
    expect(upstream.state.most).toBeLessThanOrEqual(3);
    expect(upstream.state.requests).toBe(12);
  });

  it('shares the registry-wide limit among proxies', async () => {
    const a = await holdingServer();
    const b = await holdingServer();
    const global = new ConnectionSlots(2, 'server.maxUpstreamConnections');
    const ca = client(a.port, { perOrigin: 10, global });
    const cb = client(b.port, { perOrigin: 10, global });
    const answers = Promise.all([get(ca, `http://127.0.0.1:${a.port}/1`), get(ca, `http://127.0.0.1:${a.port}/2`), get(cb, `http://127.0.0.1:${b.port}/1`)]);
    await a.holding(2);
    expect(b.state.requests).toBe(0);
    expect(global.inUse).toBe(2);
    a.release();
    await b.holding(1);
    b.release();
    expect(await answers).toEqual(['done', 'done', 'done']);
    expect(global.inUse).toBe(0);
  });

  it('refuses a waiter past its time (503 UPSTREAM_BUSY) and past the queue bound', async () => {
    const slots = new ConnectionSlots(1, 'cache.maxUpstreamConnections');
    const release = await slots.acquire(1000);
    await expect(slots.acquire(20)).rejects.toMatchObject({ code: 'UPSTREAM_BUSY', status: 503 });
    const waiting = Array.from({ length: MAX_WAITING }, () => slots.acquire(60_000));
    await expect(slots.acquire(60_000)).rejects.toBeInstanceOf(UpstreamBusyError);
    release();
    // The waiters are served in order, one slot at a time.
    for (const next of waiting) (await next)();
    expect(slots.inUse).toBe(0);
  });
});

describe('loop marker', () => {
  it('marks every upstream request with Via and knows its own mark among other hops', async () => {
    const upstream = await holdingServer();
    const marker = new LoopMarker();
    const answer = get(client(upstream.port, { via: marker.via }), `http://127.0.0.1:${upstream.port}/x`);
    await upstream.holding(1);
    upstream.release();
    await answer;
    expect(upstream.state.via).toEqual([marker.via]);
    expect(marker.seenIn(`1.1 nginx, ${marker.via}`)).toBe(true);
    expect(marker.seenIn(['1.0 squid', `${marker.via} (comment)`])).toBe(true);
    expect(marker.seenIn(new LoopMarker().via)).toBe(false);
    expect(marker.seenIn(undefined)).toBe(false);
  });
});

describe('selfUpstream', () => {
  const listening = { host: '127.0.0.1', ports: [4873] };
  it('knows this server by a local address and one of its ports', async () => {
    expect(await selfUpstream('http://127.0.0.1:4873/npm/', listening)).toMatch(/127\.0\.0\.1.*4873/);
    expect(await selfUpstream('http://localhost:4873/', listening)).toMatch(/this machine/);
    expect(await selfUpstream('http://0.0.0.0:4873/', listening)).toBeDefined();
    expect(await selfUpstream('http://127.0.0.1:4874/', listening)).toBeUndefined();
    // Bound to 127.0.0.1 only: another loopback address at the same port is another server.
    expect(await selfUpstream('http://127.0.0.2:4873/', listening)).toBeUndefined();
    expect(await selfUpstream('http://127.0.0.2:4873/', { host: '0.0.0.0', ports: [4873] })).toBeDefined();
    expect(await selfUpstream('http://[::1]:4873/', { host: '::', ports: [4873] })).toBeDefined();
    expect(await selfUpstream('http://name.invalid:4873/', listening)).toBeUndefined();
    expect(await selfUpstream('http://127.0.0.1/', { host: '127.0.0.1', ports: [80] })).toBeDefined();
  });

  it('knows an upstream under server.publicUrl', async () => {
    expect(await selfUpstream('https://registry.example/npm/', { ...listening, publicUrl: 'https://registry.example' })).toMatch(/server\.publicUrl/);
    expect(await selfUpstream('https://registry.example/other/npm/', { ...listening, publicUrl: 'https://registry.example/reg/' })).toBeUndefined();
  });
});
