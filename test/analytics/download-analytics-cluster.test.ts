// Two registry-core nodes on one PostgreSQL add their download counts to the same daily rows:
// npm installs through each node's group, then `registry-core stats --json` (read from the
// database) and either node's stats API give the sum. The nodes share one blob folder.
import { startPostgres, type TestPostgres } from '@registry-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NpmClient, makeProject } from '../helpers/npm-client.js';
import { publishPackage } from '../helpers/npm-publish-body.js';
import { createUserAndToken, eventually, runCli, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

describe('download analytics of two nodes on one PostgreSQL', () => {
  let postgres: TestPostgres;
  let nodeA: RunningRegistry;
  let nodeB: RunningRegistry;
  let admin: string;

  beforeAll(async () => {
    postgres = await startPostgres();
    const database = await postgres.createDatabase('analytics');
    const config = `analytics: { flushSeconds: 1 }
metadata: { type: postgres, url: "${database}" }
storage:
  default: { driver: fs, path: "${tempDir('analytics-blobs')}" }
repositories:
  npm-local: { format: npm, type: hosted }
  npm: { format: npm, type: group, members: [npm-local] }
`;
    nodeA = await startRegistry(config);
    nodeB = await startRegistry(config.replace('flushSeconds: 1', 'flushSeconds: 2'));
    const token = await createUserAndToken(nodeA.configFile, 'pat');
    expect((await runCli(['user', 'add', 'root', '--password', 'root-password-1', '--roles', 'admin', '--config', nodeA.configFile])).code).toBe(0);
    admin = (await runCli(['token', 'create', '--user', 'root', '--config', nodeA.configFile])).stdout.trim().split('\n').pop()!;
    for (const version of ['1.0.0', '1.1.0']) {
      expect(await publishPackage(nodeA.url, 'npm-local', token, { name: 'rc-cluster-lib', version })).toBe(201);
    }
  }, 120_000);

  afterAll(async () => {
    await nodeA?.stop();
    await nodeB?.stop();
    await postgres?.stop();
  });

  it('adds the installs made through both nodes, per version', async () => {
    const installs: [RunningRegistry, string][] = [
      [nodeA, '1.0.0'],
      [nodeB, '1.0.0'],
      [nodeB, '1.1.0'],
    ];
    for (const [node, version] of installs) {
      const client = new NpmClient(`${node.url}/npm/`);
      const installed = await client.npm(['install', '--no-package-lock'], makeProject({ 'rc-cluster-lib': version }));
      expect(installed.code, installed.stderr).toBe(0);
    }
    const fromB = await eventually(
      async () => (await (await fetch(`${nodeB.url}/-/api/stats/package?name=rc-cluster-lib`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { downloads?: number; versions?: { version: string; downloads: number }[] },
      (s) => s.downloads === 3,
    );
    expect(fromB.versions).toEqual([
      { version: '1.0.0', downloads: 2, bytes: expect.any(Number) },
      { version: '1.1.0', downloads: 1, bytes: expect.any(Number) },
    ]);
    const printed = await runCli(['stats', '--json', '--package', 'rc-cluster-lib', '--config', nodeA.configFile]);
    expect(printed.code, printed.stderr).toBe(0);
    const stats = JSON.parse(printed.stdout) as { downloads: number; days: { day: string; downloads: number }[] };
    expect(stats.downloads).toBe(3);
    expect(stats.days.at(-1)).toEqual({ day: new Date().toISOString().slice(0, 10), downloads: 3, bytes: expect.any(Number) });
  });
});
