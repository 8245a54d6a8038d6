// The direct front (server.directReplies) in a running registry: a hot answer written straight
// to the socket carries the same status, headers and bytes as the same replay through Node's
// HTTP server (a registry with `directReplies: false`), anonymously and with a token; a token
// revoked is refused at once; and a connection over the client's share is still refused.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTarball, publishBody } from '../helpers/npm-publish-body.js';
import { createUserAndToken, eventually, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

/** Send `requests` on one connection, one after another, and read each answer whole (with Content-Length). */
async function onOneConnection(port: number, requests: readonly string[]): Promise<{ status: number; headers: Record<string, string>; body: Buffer }[]> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let buffered = Buffer.alloc(0);
  let wake: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    wake?.();
  });
  socket.on('close', () => wake?.());
  const more = () => {
    if (socket.destroyed) throw new Error(`closed; unread ${JSON.stringify(buffered.toString('latin1'))}`);
    return new Promise<void>((resolve) => (wake = resolve));
  };
  const answers = [];
  for (const request of requests) {
    socket.write(request);
    let end: number;
    while ((end = buffered.indexOf('\r\n\r\n')) < 0) await more();
    const [statusLine, ...lines] = buffered.subarray(0, end).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
    const length = Number(headers['content-length'] ?? 0);
    while (buffered.length < end + 4 + length) await more();
    answers.push({ status: Number(statusLine!.split(' ')[1]), headers, body: buffered.subarray(end + 4, end + 4 + length) });
    buffered = buffered.subarray(end + 4 + length);
  }
  socket.destroy();
  return answers;
}

const config = (server: string) => `
server: { ${server} }
metrics: { enabled: true, open: true }
auth: { anonymousRead: false }
repositories:
  npm-local: { format: npm, type: hosted }
`;

describe('direct replies in a running registry', () => {
  let direct: RunningRegistry;
  let throughNode: RunningRegistry;
  const tokens = new Map<RunningRegistry, string>();
  let tarball: Buffer;

  beforeAll(async () => {
    [direct, throughNode] = await Promise.all([startRegistry(config('maxConnectionsPerClient: 6')), startRegistry(config('directReplies: false'))]);
    tarball = await makeTarball([{ name: 'package/package.json', content: '{"name":"direct-demo","version":"1.0.0"}' }]);
    for (const registry of [direct, throughNode]) {
      const token = await createUserAndToken(registry.configFile, 'reader');
      tokens.set(registry, token);
      const put = await fetch(`${registry.url}/npm-local/direct-demo`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: publishBody({ name: 'direct-demo', version: '1.0.0' }, tarball),
      });
      expect(put.status).toBe(201);
    }
  });
  afterAll(async () => {
    await Promise.all([direct?.stop(), throughNode?.stop()]);
  });

  const get = (registry: RunningRegistry, path: string, headers = '') => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${registry.port}\r\nAuthorization: Bearer ${tokens.get(registry)}\r\n${headers}\r\n`;
  /** Headers but the values made per request or per registry (its publish time): those by name only. */
  const comparable = (headers: Record<string, string>) => Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, ['date', 'x-request-id', 'last-modified', 'etag'].includes(name) ? '(any)' : value]));

  it('replays a tarball and a packument with the same status, headers and bytes as Node does', async () => {
    const seen = new Map<RunningRegistry, Awaited<ReturnType<typeof onOneConnection>>>();
    for (const registry of [direct, throughNode]) {
      const requests = [
        get(registry, '/npm-local/direct-demo/-/direct-demo-1.0.0.tgz'),
        get(registry, '/npm-local/direct-demo', 'Accept: application/vnd.npm.install-v1+json\r\n'),
      ];
      // First the full path (remembered; asked twice, as the first answer after a publish may
      // not be kept), then on a fresh connection: replays.
      await onOneConnection(registry.port, [...requests, ...requests]);
      seen.set(registry, await onOneConnection(registry.port, [...requests, ...requests, requests[0]!.replace('\r\n\r\n', '\r\nIf-None-Match: "x", W/"y"\r\n\r\n')]));
    }
    const [ours, nodes] = [seen.get(direct)!, seen.get(throughNode)!];
    expect(ours.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(ours[0]!.body.equals(tarball)).toBe(true);
    expect([ours[2]!.headers['etag'], ours[3]!.headers['etag']]).toEqual([ours[0]!.headers['etag'], ours[1]!.headers['etag']]);
    for (let i = 0; i < ours.length; i++) {
      expect(comparable(ours[i]!.headers)).toEqual(comparable(nodes[i]!.headers));
      // The packument names its tarball at each registry's own address, and its publish time:
      // the same but for those.
      const same = (body: Buffer, port: number) => body.toString('latin1').replaceAll(String(port), 'PORT').replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'TIME');
      expect(same(ours[i]!.body, direct.port)).toEqual(same(nodes[i]!.body, throughNode.port));
    }
    // Who wrote the replays: the direct front on one, Node on the other.
    const replays = async (registry: RunningRegistry) => {
      const text = await (await fetch(`${registry.url}/-/metrics`)).text();
      return ['direct', 'node'].map((writer) => Number(new RegExp(`^registry_http_replays_total\\{writer="${writer}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0));
    };
    // (The warming connection's second round may be replayed by Node: it was handed over at its first miss.)
    expect((await replays(direct))[0]).toBe(5);
    const [noneDirect, byNode] = await replays(throughNode);
    expect([noneDirect, byNode! >= 5]).toEqual([0, true]);
    // A conditional request for the ETag the replay names: 304 on both.
    const etag = ours[0]!.headers['etag']!;
    const conditional = await Promise.all([direct, throughNode].map((registry) => onOneConnection(registry.port, [get(registry, '/npm-local/direct-demo/-/direct-demo-1.0.0.tgz', `If-None-Match: ${etag}\r\n`)])));
    expect(conditional.map(([a]) => [a!.status, a!.body.length])).toEqual([
      [304, 0],
      [304, 0],
    ]);
    expect(comparable(conditional[0]![0]!.headers)).toEqual(comparable(conditional[1]![0]!.headers));
  });

  it('refuses a revoked token at once, and a connection over the per-client limit, on a replayed answer', async () => {
    const path = '/npm-local/direct-demo/-/direct-demo-1.0.0.tgz';
    expect((await onOneConnection(direct.port, [get(direct, path), get(direct, path)])).map((a) => a.status)).toEqual([200, 200]);
    // Six connections held: the seventh is over the limit, and its replayable request is refused.
    const held = await Promise.all(Array.from({ length: 6 }, () => new Promise<net.Socket>((resolve) => { const s = net.connect(direct.port, '127.0.0.1', () => resolve(s)); })));
    const refused = await eventually(() => onOneConnection(direct.port, [get(direct, path)]).catch(() => [{ status: 0, headers: {}, body: Buffer.alloc(0) }]), ([a]) => a!.status === 503);
    expect(refused[0]!.status).toBe(503);
    for (const socket of held) socket.destroy();
    // The token revoked (npm logout) on this node: refused at once, never served by the replay.
    const token = tokens.get(direct)!;
    const revoked = await fetch(`${direct.url}/npm-local/-/user/token/${encodeURIComponent(token)}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(revoked.status).toBe(200);
    const after = await onOneConnection(direct.port, [get(direct, path)]);
    expect(after[0]!.status).toBe(401);
  });
});
