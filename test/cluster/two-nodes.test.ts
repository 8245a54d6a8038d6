// Two registry-core nodes on one PostgreSQL and one blob store behave as one registry,
// driven by the real npm client: a publish on node A is installed from node B at once, and
// concurrent cold misses (and cold npm installs) through both nodes make one upstream
// request each. Run twice: on a shared blob folder, and on an S3-compatible server
// (s3rver) with large downloads redirected to the store by presigned URLs.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { startPostgres, type TestPostgres } from '@registry-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobBackends } from '../helpers/blob-backends.js';
import { countingProxy } from '../helpers/counting-proxy.js';
import { NpmClient, makePackage, makeProject } from '../helpers/npm-client.js';
import { packageTarball, publishBody } from '../helpers/npm-publish-body.js';
import { runCli, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

async function seed(registry: RunningRegistry, token: string, manifest: Record<string, unknown>, extra: { name: string; content: string }[] = []): Promise<void> {
  const put = await fetch(`${registry.url}/npm-local/${manifest['name']}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: publishBody(manifest, await packageTarball(manifest, extra)),
  });
  expect(put.status).toBe(201);
}

describe.each(Object.keys(blobBackends))('two nodes on one PostgreSQL and %s', (backendName) => {
  const backend = blobBackends[backendName]!();
  let postgres: TestPostgres;
  let upstream: RunningRegistry;
  let counter: Awaited<ReturnType<typeof countingProxy>>;
  let nodeA: RunningRegistry;
  let nodeB: RunningRegistry;
  let token: string;
  let seedToken: string;

  beforeAll(async () => {
    postgres = await startPostgres();
    const database = await postgres.createDatabase('cluster');
    // The upstream: another registry-core with one public package.
    upstream = await startRegistry(`auth: { allowRegistration: true }\nrepositories:\n  npm-local: { format: npm, type: hosted }\n`);
    const seeder = await runCli(['user', 'add', 'seed', '--password', 'seed-password-1', '--config', upstream.configFile]);
    expect(seeder.code, seeder.stderr).toBe(0);
    seedToken = (await runCli(['token', 'create', '--user', 'seed', '--config', upstream.configFile])).stdout.trim().split('\n').pop()!;
    // 8 KB of random text, so the tarball is over the redirect threshold gzipped too.
    const bulk = { name: 'package/data.txt', content: randomBytes(6000).toString('base64') };
    await seed(upstream, seedToken, { name: 'shared-dep', version: '1.0.0' }, [bulk]);
    await seed(upstream, seedToken, { name: 'cold-leaf', version: '2.0.0' }, [bulk]);
    await seed(upstream, seedToken, { name: 'cold-app', version: '1.0.0', dependencies: { 'cold-leaf': '^2.0.0' } });
    counter = await countingProxy(`${upstream.url}/npm-local/`);
    const config = `
metadata: { type: postgres, url: "${database}" }
storage:
  default: ${await backend.storage({ redirect: '{ minSize: 1kb, expires: 60 }' })}
repositories:
  npm-local: { format: npm, type: hosted }
  npm-proxy: { format: npm, type: proxy, upstream: "${counter.url}" }
  short-proxy: { format: npm, type: proxy, upstream: "${counter.url}", cache: { metadataTtl: 2 } }
  npm: { format: npm, type: group, members: [npm-local, npm-proxy] }
`;
    nodeA = await startRegistry(config);
    nodeB = await startRegistry(config);
    expect((await runCli(['user', 'add', 'ana', '--password', 'ana-password-1', '--config', nodeA.configFile])).code).toBe(0);
    token = (await runCli(['token', 'create', '--user', 'ana', '--config', nodeA.configFile])).stdout.trim().split('\n').pop()!;
  }, 120_000);

  afterAll(async () => {
    await nodeA?.stop();
    await nodeB?.stop();
    await upstream?.stop();
    counter?.server.close();
    await postgres?.stop();
    await backend.stop();
  });

  it('serves on node B what was published on node A, at once', async () => {
    const publisher = new NpmClient(`${nodeA.url}/npm/`, token);
    const published = await publisher.npm(['publish', makePackage({ name: 'cluster-lib', version: '1.0.0' })]);
    expect(published.code, published.stderr).toBe(0);
    const installer = new NpmClient(`${nodeB.url}/npm/`, token);
    const project = makeProject({ 'cluster-lib': '^1.0.0' });
    const installed = await installer.npm(['install', '--no-audit', '--no-fund'], project);
    expect(installed.code, installed.stderr).toBe(0);
    // The token created through node A works on node B too (one user and token table).
    expect((await installer.npm(['whoami'])).stdout.trim()).toBe('ana');
    // A second version published on B is seen by A.
    expect((await installer.npm(['publish', makePackage({ name: 'cluster-lib', version: '1.1.0' })])).code).toBe(0);
    const viewed = await publisher.npm(['view', 'cluster-lib', 'version']);
    expect(viewed.stdout.trim()).toBe('1.1.0');
  });

  it('makes one upstream request for concurrent cold misses on both nodes', async () => {
    const tarball = '/shared-dep/-/shared-dep-1.0.0.tgz';
    const answers = await Promise.all(
      Array.from({ length: 16 }, (_, i) => fetch(`${(i % 2 === 0 ? nodeA : nodeB).url}/npm-proxy${tarball}`).then(async (r) => [r.status, (await r.arrayBuffer()).byteLength] as const)),
    );
    for (const [status, size] of answers) {
      expect(status).toBe(200);
      expect(size).toBeGreaterThan(0);
    }
    expect(counter.counts.get(tarball)).toBe(1);
    expect(counter.counts.get('/shared-dep')).toBe(1);
  });

  it('agrees on metadata TTLs: what node A fetched is fresh on node B until it expires, then revalidated once', async () => {
    await seed(upstream, seedToken, { name: 'ttl-pkg', version: '1.0.0' });
    const versions = async (node: RunningRegistry) => Object.keys(((await (await fetch(`${node.url}/short-proxy/ttl-pkg`)).json()) as { versions: object }).versions);
    expect(await versions(nodeA)).toEqual(['1.0.0']);
    await seed(upstream, seedToken, { name: 'ttl-pkg', version: '1.1.0' });
    // Within the TTL node B serves node A's copy without asking the upstream.
    expect(await versions(nodeB)).toEqual(['1.0.0']);
    expect(counter.counts.get('/ttl-pkg')).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    // Expired for both nodes at once: concurrent requests through both revalidate once.
    const after = await Promise.all([nodeA, nodeB, nodeA, nodeB].map(versions));
    for (const seen of after) expect(seen).toEqual(['1.0.0', '1.1.0']);
    expect(counter.counts.get('/ttl-pkg')).toBe(2);
  });

  it('installs cold through both nodes at once with one upstream request per file', async () => {
    const [a, b] = await Promise.all(
      [nodeA, nodeB].map((node) => new NpmClient(`${node.url}/npm/`, token).npm(['install', '--no-audit', '--no-fund'], makeProject({ 'cold-app': '^1.0.0' }))),
    );
    expect(a!.code, a!.stderr).toBe(0);
    expect(b!.code, b!.stderr).toBe(0);
    for (const file of ['/cold-app', '/cold-leaf', '/cold-app/-/cold-app-1.0.0.tgz', '/cold-leaf/-/cold-leaf-2.0.0.tgz']) {
      expect(counter.counts.get(file), file).toBe(1);
    }
  });

  if (backend.redirectsTo) it('sends downloads over the threshold to the store with a presigned URL', async () => {
    const url = `${nodeB.url}/npm/shared-dep/-/shared-dep-1.0.0.tgz`;
    const direct = await fetch(`${nodeA.url}/npm-proxy/shared-dep/-/shared-dep-1.0.0.tgz`);
    const expected = Buffer.from(await direct.arrayBuffer());
    const answer = await fetch(url, { redirect: 'manual' });
    expect(answer.status).toBe(307);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    const location = answer.headers.get('location')!;
    expect(location.startsWith(`${backend.redirectsTo!()}sha256/`)).toBe(true);
    expect(location).toMatch(/X-Amz-Signature=/);
    const fromStore = await fetch(location);
    expect(fromStore.status).toBe(200);
    expect(fromStore.headers.get('content-type')).toBe('application/octet-stream');
    expect(Buffer.from(await fromStore.arrayBuffer()).equals(expected)).toBe(true);
    // npm (with its token) follows the redirect; the tarball is verified against the packument.
    const installed = await new NpmClient(`${nodeB.url}/npm/`, token).npm(['install', '--no-audit', '--no-fund'], makeProject({ 'shared-dep': '1.0.0' }));
    expect(installed.code, installed.stderr).toBe(0);
    // HEAD and conditional requests are still answered by the registry itself.
    expect((await fetch(url, { method: 'HEAD', redirect: 'manual' })).status).toBe(200);
    const etag = (await fetch(url, { method: 'HEAD' })).headers.get('etag')!;
    expect((await fetch(url, { headers: { 'if-none-match': etag }, redirect: 'manual' })).status).toBe(304);
  });
});
