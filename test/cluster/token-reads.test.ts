// Reads with a token take the hot path (replayed answers) without loosening anything: two
// nodes on one PostgreSQL, a private repository. A token that may not read it is refused
// however often the same tarball was just replayed to one that may; a token revoked on node
// A is refused there at once and on node B once `auth.cacheSeconds` has passed.
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startPostgres, type TestPostgres } from '@registry-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageTarball, publishBody } from '../helpers/npm-publish-body.js';
import { runCli, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

const WINDOW_SECONDS = 2;

describe('token reads on two nodes', () => {
  let postgres: TestPostgres;
  let nodeA: RunningRegistry;
  let nodeB: RunningRegistry;
  const tokens: Record<string, string> = {};
  const tarball = '/npm-private/secret-pkg/-/secret-pkg-1.0.0.tgz';

  const newToken = async (user: string) => (await runCli(['token', 'create', '--user', user, '--config', nodeA.configFile])).stdout.trim().split('\n').pop()!;
  const read = async (node: RunningRegistry, token: string | undefined, url = tarball) => {
    const answer = await fetch(`${node.url}${url}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    await answer.arrayBuffer();
    return answer.status;
  };
  const readMany = async (node: RunningRegistry, token: string | undefined, url = tarball) => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await read(node, token, url));
    return statuses;
  };

  beforeAll(async () => {
    postgres = await startPostgres();
    const database = await postgres.createDatabase('token-reads');
    const config = `
metadata: { type: postgres, url: "${database}" }
storage:
  default: { driver: fs, path: "${path.join(tempDir('token-reads-blobs'), 'blobs')}" }
auth:
  cacheSeconds: ${WINDOW_SECONDS}
  permissions:
    - { repositories: ["npm-private"], read: [readers] }
repositories:
  npm-private: { format: npm, type: hosted }
  npm-open: { format: npm, type: hosted }
  npm: { format: npm, type: group, members: [npm-private, npm-open] }
`;
    nodeA = await startRegistry(config);
    nodeB = await startRegistry(config);
    expect((await runCli(['user', 'add', 'ana', '--password', 'ana-password-1', '--roles', 'readers', '--config', nodeA.configFile])).code).toBe(0);
    expect((await runCli(['user', 'add', 'bob', '--password', 'bob-password-1', '--config', nodeA.configFile])).code).toBe(0);
    tokens['ana'] = await newToken('ana');
    tokens['bob'] = await newToken('bob');
    const manifest = { name: 'secret-pkg', version: '1.0.0' };
    const put = await fetch(`${nodeA.url}/npm-private/secret-pkg`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${tokens['ana']}`, 'content-type': 'application/json' },
      body: publishBody(manifest, await packageTarball(manifest)),
    });
    expect(put.status).toBe(201);
  }, 180_000);

  afterAll(async () => {
    await nodeA?.stop();
    await nodeB?.stop();
    await postgres?.stop();
  });

  it('never replays a private answer to a token that may not read it, nor to anonymous clients', async () => {
    // The reader's answer is remembered (and replayed) for the reader's token...
    expect(await readMany(nodeA, tokens['ana'])).toEqual([200, 200, 200, 200]);
    expect(await readMany(nodeA, tokens['ana'], tarball.replace('/npm-private/', '/npm/'))).toEqual([200, 200, 200, 200]);
    // ...and never given to anyone else: the other user's token, in the cache too, is
    // refused, through the repository and through the group, every time.
    expect(await readMany(nodeA, tokens['bob'])).toEqual([403, 403, 403, 403]);
    expect(await readMany(nodeA, tokens['bob'], tarball.replace('/npm-private/', '/npm/'))).toEqual([403, 403, 403, 403]);
    expect(await readMany(nodeA, undefined)).toEqual([401, 401, 401, 401]);
    // The reader still reads, in between the refusals.
    expect(await read(nodeA, tokens['ana'])).toBe(200);
  });

  it('refuses a token revoked on node A at once there, and on node B within the window', async () => {
    const token = await newToken('ana');
    expect(await readMany(nodeA, token)).toEqual([200, 200, 200, 200]);
    expect(await readMany(nodeB, token)).toEqual([200, 200, 200, 200]);
    // npm logout on node A.
    const revoked = await fetch(`${nodeA.url}/npm-private/-/user/token/${encodeURIComponent(token)}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(revoked.status).toBe(200);
    expect(await readMany(nodeA, token)).toEqual([401, 401, 401, 401]);
    // Node B learns it from the metadata store: whatever it answered inside the window, it
    // refuses the token from the window's end on (a little margin for the two clocks' reads).
    await sleep(WINDOW_SECONDS * 1000 + 250);
    expect(await readMany(nodeB, token)).toEqual([401, 401, 401, 401]);
    // The other tokens of the user go on being served.
    expect(await read(nodeB, tokens['ana'])).toBe(200);
  });
});
