// The shipped production example (examples/production) run as written: PostgreSQL for
// metadata, an S3-compatible server (s3rver) for blobs with credentials from the AWS
// default chain (environment), migrations run explicitly, no anonymous reads, team rules,
// and downloads over 1 MB redirected to the bucket. Driven by the npm client.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startPostgres, startS3rver, type TestPostgres, type TestS3 } from '@registry-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NpmClient, makePackage, makeProject } from '../helpers/npm-client.js';
import { packageTarball, publishBody } from '../helpers/npm-publish-body.js';
import { createUserAndToken, repoRoot, runCli, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

const testDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const exampleConfig = path.join(repoRoot, 'examples', 'production', 'registry-core.config.yaml');

describe('examples/production on PostgreSQL and an S3-compatible store', () => {
  let postgres: TestPostgres;
  let s3: TestS3;
  let upstream: RunningRegistry;
  let node: RunningRegistry;
  const saved = { ...process.env };

  beforeAll(async () => {
    postgres = await startPostgres();
    s3 = await startS3rver({ fromDir: testDir, buckets: ['artifacts'] });
    upstream = await startRegistry(`repositories:\n  npm-local: { format: npm, type: hosted }\n`);
    const seedToken = await createUserAndToken(upstream.configFile, 'seed');
    const manifest = { name: 'left-pad-ish', version: '1.0.0' };
    const put = await fetch(`${upstream.url}/npm-local/left-pad-ish`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${seedToken}`, 'content-type': 'application/json' },
      body: publishBody(manifest, await packageTarball(manifest)),
    });
    expect(put.status).toBe(201);
    const port = await freePort();
    Object.assign(process.env, {
      DATABASE_URL: await postgres.createDatabase('production'),
      S3_BUCKET: 'artifacts',
      // Clients are redirected to the store: it must be at another host name than the
      // registry (npm keeps its Authorization header on a same-host redirect).
      S3_ENDPOINT: s3.endpoint.replace('127.0.0.1', 'localhost'),
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      NPM_UPSTREAM: `${upstream.url}/npm-local/`,
      DATA_DIR: tempDir('production-data'),
    });
    const config = readFileSync(exampleConfig, 'utf8');
    const check = await runCli(['config', 'check', '--config', exampleConfig]);
    expect(check.stderr).toMatch(/registry-core db migrate/);
    const migrated = await runCli(['db', 'migrate', '--config', exampleConfig]);
    expect(migrated.code, migrated.stderr).toBe(0);
    node = await startRegistry(config, { port });
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    await upstream?.stop();
    await s3?.stop();
    await postgres?.stop();
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  });

  it('publishes by team, installs through the group with a redirect to the bucket, refuses anonymous reads', async () => {
    const alice = await createUserWithRoles(node.configFile, 'alice', 'platform');
    const bob = await createUserWithRoles(node.configFile, 'bob', 'web');
    // 1.5 MB of random bytes: the tarball is over the 1 MB redirect threshold.
    const big = makePackage({ name: '@platform/assets', version: '1.0.0', dependencies: { 'left-pad-ish': '^1.0.0' } }, { 'blob.bin': randomBytes(1_100_000).toString('base64') });
    const asAlice = new NpmClient(`${node.url}/npm/`, alice);
    const published = await asAlice.npm(['publish', big]);
    expect(published.code, published.stderr).toBe(0);
    const asBob = new NpmClient(`${node.url}/npm/`, bob);
    const refused = await asBob.npm(['publish', makePackage({ name: '@platform/intruder', version: '1.0.0' })]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/403/);
    const installed = await asBob.npm(['install', '--no-audit', '--no-fund'], makeProject({ '@platform/assets': '^1.0.0' }));
    expect(installed.code, installed.stderr).toBe(0);
    const tarball = `${node.url}/npm/@platform/assets/-/assets-1.0.0.tgz`;
    const answer = await fetch(tarball, { redirect: 'manual', headers: { authorization: `Bearer ${bob}` } });
    expect(answer.status).toBe(307);
    expect(answer.headers.get('location')).toMatch(new RegExp(`^${process.env['S3_ENDPOINT']}/artifacts/blobs/sha256/`));
    expect((await fetch(tarball, { redirect: 'manual' })).status).toBe(401);
    expect((await fetch(`${node.url}/npm/left-pad-ish`)).status).toBe(401);
    // Every blob the metadata refers to is in the bucket, whole.
    const verify = await runCli(['cache', 'verify', '--config', exampleConfig]);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/checked \d+ assets, 0 bad/);
  });
});

async function createUserWithRoles(configFile: string, user: string, roles: string): Promise<string> {
  const added = await runCli(['user', 'add', user, '--password', 'correct-horse-battery', '--roles', roles, '--config', configFile]);
  expect(added.code, added.stderr).toBe(0);
  const created = await runCli(['token', 'create', '--user', user, '--config', configFile]);
  expect(created.code, created.stderr).toBe(0);
  return created.stdout.trim().split('\n').pop()!;
}
