// `server.workers: 2`: two processes serve one port, on SQLite (the primary's named locks
// over IPC) and on PostgreSQL (advisory locks). Requests reach both workers (each answer
// names its worker in X-Registry-Core-Worker); what one worker changes (an unpublish, a
// token revocation) is dropped from the other's memory caches at once; concurrent cold
// misses through both make one upstream request; a killed worker is forked again; SIGTERM
// drains both and exits 0. Requests go on fresh connections, which the primary deals out
// to the workers in turn.
import { request } from 'node:http';
import { startPostgres, type TestPostgres } from '@registry-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countingProxy } from '../helpers/counting-proxy.js';
import { NpmClient, makePackage, makeProject } from '../helpers/npm-client.js';
import { packageTarball, publishBody, publishPackage } from '../helpers/npm-publish-body.js';
import { runCli, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

interface Answer {
  readonly status: number;
  readonly worker: string;
  readonly body: Buffer;
}

/** A request on a connection of its own (no keep-alive pool), so each request may reach another worker. */
function send(method: string, url: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, worker: String(res.headers['x-registry-core-worker']), body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    // A connection the primary handed to a worker as it was killed may never be answered.
    req.setTimeout(5_000, () => req.destroy(new Error('no answer')));
    req.end(body);
  });
}

const get = (url: string, headers: Record<string, string> = {}) => send('GET', url, headers);

/** GET `url` on fresh connections until each worker has answered it `times` times; resolves every answer. */
async function fromEachWorker(url: string, times: number, headers: Record<string, string> = {}): Promise<Answer[]> {
  const answers: Answer[] = [];
  const seen = new Map<string, number>();
  while (!(seen.size === 2 && [...seen.values()].every((n) => n >= times))) {
    const answer = await get(url, headers);
    answers.push(answer);
    seen.set(answer.worker, (seen.get(answer.worker) ?? 0) + 1);
    if (answers.length > 50) throw new Error(`answers came from workers ${JSON.stringify([...seen])} only`);
  }
  return answers;
}

async function workerPids(url: string): Promise<Map<number, number>> {
  const pids = new Map<number, number>();
  for (const answer of await fromEachWorker(`${url}/-/health`, 1)) {
    const { worker } = JSON.parse(answer.body.toString()) as { worker: { slot: number; pid: number } };
    pids.set(worker.slot, worker.pid);
  }
  return pids;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.each(['sqlite', 'postgres'])('server.workers: 2 on %s', (engine) => {
  let postgres: TestPostgres | undefined;
  let upstream: RunningRegistry;
  let counter: Awaited<ReturnType<typeof countingProxy>>;
  let registry: RunningRegistry;
  let token: string;

  beforeAll(async () => {
    // The upstream: another registry-core (one process) with packages to be fetched cold.
    upstream = await startRegistry(`repositories:\n  npm-local: { format: npm, type: hosted }\n`);
    expect((await runCli(['user', 'add', 'seed', '--password', 'seed-password-1', '--config', upstream.configFile])).code).toBe(0);
    const seedToken = (await runCli(['token', 'create', '--user', 'seed', '--config', upstream.configFile])).stdout.trim().split('\n').pop()!;
    expect(await publishPackage(upstream.url, 'npm-local', seedToken, { name: 'cold-dep', version: '1.0.0' })).toBe(201);
    counter = await countingProxy(`${upstream.url}/npm-local/`);
    const dir = tempDir('workers');
    const metadata = engine === 'postgres' ? `{ type: postgres, url: "${await (postgres = await startPostgres()).createDatabase('workers')}" }` : `{ type: sqlite, path: ${dir}/registry.sqlite }`;
    registry = await startRegistry(
      `server: { workers: 2 }
metadata: ${metadata}
repositories:
  npm-local: { format: npm, type: hosted }
  npm-proxy: { format: npm, type: proxy, upstream: "${counter.url}" }
  npm: { format: npm, type: group, members: [npm-local, npm-proxy] }
`,
      { dir },
    );
    expect(registry.output()).toContain('with 2 workers');
    expect((await runCli(['user', 'add', 'ana', '--password', 'ana-password-1', '--config', registry.configFile])).code).toBe(0);
    token = (await runCli(['token', 'create', '--user', 'ana', '--config', registry.configFile])).stdout.trim().split('\n').pop()!;
  }, 120_000);

  afterAll(async () => {
    await registry?.stop();
    await upstream?.stop();
    counter?.server.close();
    await postgres?.stop();
  });

  it('answers from both workers, and what one publishes the other serves at once', async () => {
    const pids = await workerPids(registry.url);
    expect([...pids.keys()].sort()).toEqual([1, 2]);
    expect(pids.get(1)).not.toBe(pids.get(2));
    const npm = new NpmClient(`${registry.url}/npm/`, token);
    const published = await npm.npm(['publish', makePackage({ name: 'worker-lib', version: '1.0.0' })]);
    expect(published.code, published.stderr).toBe(0);
    for (const answer of await fromEachWorker(`${registry.url}/npm/worker-lib`, 1)) expect(answer.status).toBe(200);
    const installed = await npm.npm(['install', '--no-audit', '--no-fund'], makeProject({ 'worker-lib': '^1.0.0' }));
    expect(installed.code, installed.stderr).toBe(0);
  });

  it('drops on every worker, at once, a tarball one worker unpublished', async () => {
    expect(await publishPackage(registry.url, 'npm-local', token, { name: 'gone-lib', version: '1.0.0' })).toBe(201);
    const tarball = `${registry.url}/npm-local/gone-lib/-/gone-lib-1.0.0.tgz`;
    // Twice from each worker: the second answer is replayed from its memory.
    for (const answer of await fromEachWorker(tarball, 2)) expect(answer.status).toBe(200);
    const npm = new NpmClient(`${registry.url}/npm-local/`, token);
    const unpublished = await npm.npm(['unpublish', 'gone-lib@1.0.0', '--force']);
    expect(unpublished.code, unpublished.stderr).toBe(0);
    for (const answer of await fromEachWorker(tarball, 2)) expect(answer.status, `worker ${answer.worker}`).toBe(404);
  });

  it('refuses on every worker, at once, a token revoked through one', async () => {
    const secret = (await runCli(['token', 'create', '--user', 'ana', '--config', registry.configFile])).stdout.trim().split('\n').pop()!;
    expect(await publishPackage(registry.url, 'npm-local', token, { name: 'private-lib', version: '1.0.0' })).toBe(201);
    const tarball = `${registry.url}/npm-local/private-lib/-/private-lib-1.0.0.tgz`;
    const auth = { authorization: `Bearer ${secret}` };
    for (const answer of await fromEachWorker(tarball, 2, auth)) expect(answer.status).toBe(200);
    const npm = new NpmClient(`${registry.url}/npm-local/`, secret);
    const loggedOut = await npm.npm(['logout']);
    expect(loggedOut.code, loggedOut.stderr).toBe(0);
    for (const answer of await fromEachWorker(tarball, 2, auth)) expect(answer.status, `worker ${answer.worker}`).toBe(401);
  });

  it('serialises concurrent publishes to one package through both workers: every version is kept', async () => {
    const versions = ['1.0.0', '1.0.1', '1.0.2', '1.0.3', '1.0.4', '1.0.5'];
    const bodies = await Promise.all(versions.map(async (version) => publishBody({ name: 'busy-lib', version }, await packageTarball({ name: 'busy-lib', version }))));
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const answers = await Promise.all(bodies.map((body) => send('PUT', `${registry.url}/npm-local/busy-lib`, headers, body)));
    expect(new Set(answers.map((a) => a.worker)).size).toBe(2);
    for (const answer of answers) expect(answer.status, answer.body.toString()).toBe(201);
    const packument = JSON.parse((await get(`${registry.url}/npm-local/busy-lib`)).body.toString()) as { versions: Record<string, unknown> };
    expect(Object.keys(packument.versions).sort()).toEqual(versions);
  });

  it('makes one upstream request for concurrent cold misses on both workers', async () => {
    const path = '/cold-dep/-/cold-dep-1.0.0.tgz';
    const answers = await Promise.all(Array.from({ length: 16 }, () => get(`${registry.url}/npm-proxy${path}`)));
    expect(new Set(answers.map((a) => a.worker)).size).toBe(2);
    for (const answer of answers) expect(answer.status).toBe(200);
    expect(counter.counts.get(path)).toBe(1);
    expect(counter.counts.get('/cold-dep')).toBe(1);
  });

  it('forks a killed worker again, and drains both at SIGTERM', async () => {
    const before = await workerPids(registry.url);
    process.kill(before.get(2)!, 'SIGKILL');
    let after = before;
    while (after.get(2) === before.get(2)) after = await workerPids(registry.url).catch(() => before);
    expect(after.get(1)).toBe(before.get(1));
    expect(alive(after.get(2)!)).toBe(true);
    expect(registry.output()).toMatch(/worker 2 \(pid \d+\) exited \(SIGKILL\): starting it again/);
    expect(await registry.stop()).toBe(0);
    for (const pid of after.values()) expect(alive(pid)).toBe(false);
  });
});
