import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamClient, UpstreamRefusedError, readBody, type UpstreamClientOptions } from './upstream-client.js';

/** One server on every loopback address, so 127.0.0.1, 127.0.0.2 and localhost all reach it. */
let server: Server;
let port: number;
const seen: { url: string; headers: Record<string, string | string[] | undefined> }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    if (req.url === '/stall') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first chunk');
      return; // never ends
    }
    if (req.url === '/silent') return; // never answers
    if (req.url?.startsWith('/to/')) {
      res.writeHead(302, { location: decodeURIComponent(req.url.slice(4)) }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] }).end(`hello from ${req.headers.host}${req.url}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', () => resolve()));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const clients: UpstreamClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

function client(overrides: Partial<UpstreamClientOptions> = {}): UpstreamClient {
  const c = new UpstreamClient({
    upstream: new URL(`http://127.0.0.1:${port}/`),
    connectTimeoutMs: 5000,
    headersTimeoutMs: 5000,
    idleTimeoutMs: 5000,
    allowPrivateAddresses: false,
    ...overrides,
  });
  clients.push(c);
  return c;
}

const anyRedirect = { checkRedirect: () => undefined };

async function text(c: UpstreamClient, url: string): Promise<string> {
  const response = await c.request(new URL(url), anyRedirect);
  return (await readBody(response.body, 1 << 20)).toString();
}

describe('UpstreamClient', () => {
  it('trusts the configured upstream host even on loopback, and keeps multi-valued headers', async () => {
    const response = await client().request(new URL(`http://127.0.0.1:${port}/a`), anyRedirect);
    expect(response.status).toBe(200);
    expect(response.headers.get('set-cookie')).toBe('a=1, b=2');
    expect((await readBody(response.body, 1024)).toString()).toBe(`hello from 127.0.0.1:${port}/a`);
  });

  it('asks for identity encoding and forwards no credentials', async () => {
    const c = client();
    const response = await c.request(new URL(`http://127.0.0.1:${port}/creds2`), { ...anyRedirect, headers: { Authorization: 'Bearer secret', cookie: 'session=1', 'proxy-authorization': 'x', accept: 'text/plain' } });
    response.body.resume();
    const asked = seen.find((s) => s.url === '/creds2')!;
    expect(asked.headers['accept-encoding']).toBe('identity');
    expect(asked.headers['accept']).toBe('text/plain');
    expect(asked.headers['authorization']).toBeUndefined();
    expect(asked.headers['cookie']).toBeUndefined();
    expect(asked.headers['proxy-authorization']).toBeUndefined();
  });

  it('refuses another host on a private address: an IP literal, and a name resolving to one', async () => {
    const c = client();
    await expect(c.request(new URL(`http://127.0.0.2:${port}/x`), anyRedirect)).rejects.toThrow(UpstreamRefusedError);
    await expect(c.request(new URL(`http://127.0.0.2:${port}/x`), anyRedirect)).rejects.toThrow(/loopback address/);
    await expect(c.request(new URL(`http://localhost:${port}/x`), anyRedirect)).rejects.toThrow(/refusing to connect to localhost \((127\.0\.0\.1|::1)\): a loopback address/);
    await expect(c.request(new URL(`http://[::ffff:127.0.0.2]:${port}/x`), anyRedirect)).rejects.toThrow(UpstreamRefusedError);
  });

  it('refuses a redirect that lands on a private address of another host', async () => {
    const target = encodeURIComponent(`http://127.0.0.2:${port}/secret`);
    const before = seen.filter((s) => s.url === '/secret').length;
    await expect(client().request(new URL(`http://127.0.0.1:${port}/to/${target}`), anyRedirect)).rejects.toThrow(UpstreamRefusedError);
    expect(seen.filter((s) => s.url === '/secret').length).toBe(before);
  });

  it('lets private addresses through when allowed', async () => {
    const c = client({ allowPrivateAddresses: true });
    expect(await text(c, `http://127.0.0.2:${port}/y`)).toBe(`hello from 127.0.0.2:${port}/y`);
    expect(await text(c, `http://localhost:${port}/z`)).toBe(`hello from localhost:${port}/z`);
  });

  it('vets each redirect and follows at most five', async () => {
    const checked: string[] = [];
    const c = client();
    const hop = (n: number): string => (n === 0 ? `http://127.0.0.1:${port}/end` : `http://127.0.0.1:${port}/to/${encodeURIComponent(hop(n - 1))}`);
    const response = await c.request(new URL(hop(5)), { checkRedirect: (t) => void checked.push(t.pathname) });
    expect(response.status).toBe(200);
    expect(checked).toHaveLength(5);
    response.body.resume();
    await expect(c.request(new URL(hop(6)), anyRedirect)).rejects.toThrow(/redirected more than 5 times/);
    await expect(c.request(new URL(hop(1)), { checkRedirect: () => { throw new UpstreamRefusedError('no'); } })).rejects.toThrow('no');
  });

  it('times out waiting for headers, and cuts a body that stalls', async () => {
    await expect(client({ headersTimeoutMs: 200 }).request(new URL(`http://127.0.0.1:${port}/silent`), anyRedirect)).rejects.toMatchObject({ code: 'UPSTREAM_TIMEOUT' });
    const response = await client({ idleTimeoutMs: 200 }).request(new URL(`http://127.0.0.1:${port}/stall`), anyRedirect);
    expect(response.status).toBe(200);
    await expect(readBody(response.body, 1024)).rejects.toMatchObject({ code: 'UPSTREAM_TIMEOUT', message: expect.stringMatching(/stalled/) });
  });

  it('cuts a body that trickles past its time budget, though it never stalls long', async () => {
    // 'first chunk' then nothing: with a 60 s idle timeout only the budget can cut it.
    const response = await client({ idleTimeoutMs: 60_000, transferTimeoutMs: 300, minTransferRate: 1000 }).request(new URL(`http://127.0.0.1:${port}/stall`), anyRedirect);
    await expect(readBody(response.body, 1024)).rejects.toMatchObject({ code: 'UPSTREAM_TIMEOUT', message: expect.stringMatching(/time budget/) });
  });

  it('maps a refused connection to an UpstreamError', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
    const free = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(client({ upstream: new URL(`http://127.0.0.1:${free}/`) }).request(new URL(`http://127.0.0.1:${free}/`), anyRedirect)).rejects.toMatchObject({
      code: 'UPSTREAM_FAILED',
      message: expect.stringMatching(/ECONNREFUSED/),
    });
  });
});

describe('UpstreamClient credentials (upstreamAuth)', () => {
  /** A private upstream: Basic `u:p` or a token from its realm at /token; `/open` needs nothing. */
  let privateServer: Server;
  let privatePort: number;
  const log: { url: string; authorization?: string }[] = [];
  let tokenRequests = 0;
  beforeAll(async () => {
    privateServer = createServer((req, res) => {
      const authorization = req.headers['authorization'];
      log.push({ url: req.url ?? '', ...(authorization ? { authorization } : {}) });
      const basic = `Basic ${Buffer.from('u:p').toString('base64')}`;
      if (req.url?.startsWith('/token')) {
        tokenRequests++;
        if (authorization !== basic) return void res.writeHead(401).end();
        const scope = new URL(req.url, 'http://x').searchParams.get('scope');
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `tok-${scope}`, expires_in: 300 }));
      }
      if (req.url === '/basic') return void (authorization === basic ? res.writeHead(200).end('basic ok') : res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' }).end());
      if (req.url === '/bearer/thing') {
        if (authorization === 'Bearer tok-repository:thing:pull') return void res.writeHead(200).end('bearer ok');
        return void res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${privatePort}/token",service="svc",scope="repository:thing:pull"` }).end();
      }
      if (req.url === '/bearer/elsewhere') return void res.writeHead(401, { 'www-authenticate': `Bearer realm="http://localhost:${privatePort}/token",scope="repository:thing:pull"` }).end();
      if (req.url === '/static-token') return void (authorization === 'Bearer s3cr3t' ? res.writeHead(200).end('token ok') : res.writeHead(401).end());
      if (req.url?.startsWith('/away')) return void res.writeHead(302, { location: `http://localhost:${port}/elsewhere` }).end();
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => privateServer.listen(0, '127.0.0.1', () => resolve()));
    privatePort = (privateServer.address() as AddressInfo).port;
  });
  afterAll(() => {
    privateServer.closeAllConnections();
    privateServer.close();
  });

  const privateClient = (credentials?: UpstreamClientOptions['credentials']) => client({ upstream: new URL(`http://127.0.0.1:${privatePort}/`), allowPrivateAddresses: true, ...(credentials ? { credentials } : {}) });
  const get = async (c: UpstreamClient, path: string) => {
    const response = await c.request(new URL(`http://127.0.0.1:${privatePort}${path}`), anyRedirect);
    return { status: response.status, body: (await readBody(response.body, 1 << 20)).toString() };
  };

  it('sends Basic credentials or a static token to the upstream, and nothing without upstreamAuth', async () => {
    expect(await get(privateClient({ username: 'u', password: 'p' }), '/basic')).toEqual({ status: 200, body: 'basic ok' });
    expect(await get(privateClient({ token: 's3cr3t' }), '/static-token')).toEqual({ status: 200, body: 'token ok' });
    expect((await get(privateClient(), '/basic')).status).toBe(401);
  });

  it('buys a token at the Bearer challenge\'s realm with the credentials, caches it, and retries once', async () => {
    tokenRequests = 0;
    const c = privateClient({ username: 'u', password: 'p' });
    expect(await get(c, '/bearer/thing')).toEqual({ status: 200, body: 'bearer ok' });
    expect(await get(c, '/bearer/thing')).toEqual({ status: 200, body: 'bearer ok' });
    expect(tokenRequests).toBe(1);
    // Wrong credentials: the token service refuses, and the error names it without secrets.
    const wrong = privateClient({ username: 'u', password: 'nope' });
    const failure = await wrong.request(new URL(`http://127.0.0.1:${privatePort}/bearer/thing`), anyRedirect).catch((e: Error) => e);
    expect(String(failure)).toMatch(/token service .* answered 401/);
    expect(String(failure)).not.toMatch(/nope/);
  });

  it('presents a token for the request\'s scope once the upstream is known to want one (no second 401)', async () => {
    tokenRequests = 0;
    const c = privateClient({ username: 'u', password: 'p' });
    expect((await get(c, '/bearer/thing')).status).toBe(200);
    const before = log.length;
    const response = await c.request(new URL(`http://127.0.0.1:${privatePort}/bearer/thing`), { ...anyRedirect, tokenScope: 'repository:thing:pull' });
    expect(response.status).toBe(200);
    await readBody(response.body, 1 << 20);
    // One request, carrying the cached token: no refused attempt first.
    expect(log.slice(before)).toEqual([{ url: '/bearer/thing', authorization: 'Bearer tok-repository:thing:pull' }]);
    expect(tokenRequests).toBe(1);
  });

  it('never sends the credentials to another origin, on a redirect or to a realm it may not reach', async () => {
    seen.length = 0;
    const c = privateClient({ username: 'u', password: 'p' });
    const response = await c.request(new URL(`http://127.0.0.1:${privatePort}/away`), anyRedirect);
    await readBody(response.body, 1 << 20);
    expect(seen.find((s) => s.url === '/elsewhere')?.headers['authorization']).toBeUndefined();
    // A realm on another origin the proxy may not fetch from (the redirect check refuses it): no token request.
    tokenRequests = 0;
    const refused = await c.request(new URL(`http://127.0.0.1:${privatePort}/bearer/elsewhere`), { checkRedirect: () => { throw new UpstreamRefusedError('not an allowed origin'); } }).catch((e: Error) => e);
    expect(String(refused)).toMatch(/not an allowed origin/);
    expect(tokenRequests).toBe(0);
  });
});

describe('UpstreamClient against an upstream that closes its connection', () => {
  /** An HTTP/1.0-style answer (not kept alive) of `size` bytes, all written at once, then FIN. */
  let raw: NetServer;
  let rawPort: number;
  const SIZE = 4 * 1024 * 1024;
  beforeAll(async () => {
    raw = createNetServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', (head: Buffer) => {
        const cut = head.toString('latin1').startsWith('GET /cut');
        socket.write(`HTTP/1.0 200 OK\r\nConnection: close\r\nContent-Length: ${SIZE}\r\n\r\n`);
        socket.write(Buffer.alloc(cut ? SIZE / 2 : SIZE, 0x61));
        socket.end();
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', () => resolve()));
    rawPort = (raw.address() as AddressInfo).port;
  });
  afterAll(() => void raw.close());

  /** The consumer holds the body back a while, then reads slowly (undici issue 5360 crashed the process here). */
  async function readHeldBack(path: string): Promise<number> {
    const response = await client({ upstream: new URL(`http://127.0.0.1:${rawPort}/`) }).request(new URL(`http://127.0.0.1:${rawPort}${path}`), anyRedirect);
    await new Promise((r) => setTimeout(r, 200));
    let bytes = 0;
    for await (const chunk of response.body) {
      bytes += (chunk as Buffer).length;
      await new Promise((r) => setTimeout(r, 1));
    }
    return bytes;
  }

  it('delivers a whole body that ended with the connection while it was held back', async () => {
    expect(await readHeldBack('/whole')).toBe(SIZE);
  });

  it('fails a body cut short by the connection closing while it was held back, as an UpstreamError', async () => {
    await expect(readHeldBack('/cut')).rejects.toMatchObject({ code: 'UPSTREAM_FAILED' });
  });
});
