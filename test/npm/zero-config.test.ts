// `registry-core start` with no config at all: npm as hosted + proxy + group, the proxy's
// upstream being the registry the local npm client is configured with, self-registration
// on. Nothing here contacts that upstream.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

describe('zero-config default', () => {
  let registry: RunningRegistry;
  beforeAll(async () => {
    registry = await startRegistry(undefined);
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('serves every installed format as hosted, proxy and group with client lines, data under ./registry-data', async () => {
    const out = registry.output();
    expect(out).toContain('zero-config default');
    const upstream = execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim();
    expect(out).toContain(`npm-proxy  (npm proxy of ${upstream}`);
    expect(out).toContain('npm  (npm group of npm-local, npm-proxy)');
    expect(out).toContain(`npm config set registry http://127.0.0.1:${registry.port}/npm/`);
    const health = (await (await fetch(`${registry.url}/-/health`)).json()) as { repositories: { name: string; type: string }[] };
    // Every installed format gets the three: npm, OCI, PyPI and Maven ship with registry-core.
    expect(health.repositories.map((r) => `${r.name}:${r.type}`).sort()).toEqual(['maven-local:hosted', 'maven-proxy:proxy', 'maven:group', 'npm-local:hosted', 'npm-proxy:proxy', 'npm:group', 'oci-local:hosted', 'oci-proxy:proxy', 'oci:group', 'pypi-local:hosted', 'pypi-proxy:proxy', 'pypi:group']);
    expect(out).toContain('maven  (maven group of maven-local, maven-proxy)');
    expect(out).toContain(`settings.xml: <mirror><id>maven</id><mirrorOf>*</mirrorOf><url>http://127.0.0.1:${registry.port}/maven/</url></mirror>`);
    expect(out).toContain('pypi  (pypi group of pypi-local, pypi-proxy)');
    expect(out).toContain(`pip install --index-url http://127.0.0.1:${registry.port}/pypi/simple/ <package>`);
    expect(existsSync(path.join(registry.dir, 'registry-data', 'registry.sqlite'))).toBe(true);
  });

  it('lets a client register itself', async () => {
    const created = await fetch(`${registry.url}/npm/-/user/org.couchdb.user:dev`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'dev', password: 'dev-password-1', type: 'user' }),
    });
    expect(created.status).toBe(201);
    const { token } = (await created.json()) as { token: string };
    const whoami = await fetch(`${registry.url}/npm/-/whoami`, { headers: { authorization: `Bearer ${token}` } });
    expect(await whoami.json()).toEqual({ username: 'dev' });
  });
});
