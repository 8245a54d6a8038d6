// `upstreamAuth` for every proxy: npm, PyPI and Maven proxies of a private upstream (another
// registry-core whose repositories refuse anonymous reads) install through the real npm and
// pip clients with a token from an environment variable, a password file or a token file;
// without credentials the same proxies get nothing, and the secrets never show in a response.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NpmClient, makePackage, makeProject } from '../helpers/npm-client.js';
import { buildProject, makeVenv, run, twineUpload } from '../helpers/python.js';
import { createUserAndToken, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

describe('proxies of a private upstream (upstreamAuth)', () => {
  let upstream: RunningRegistry;
  let node: RunningRegistry;
  let token: string;
  const jar = Buffer.from('PK\u0003\u0004 not really a jar, but bytes to check');
  const pom = '<?xml version="1.0"?>\n<project><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId><artifactId>secret</artifactId><version>1.0.0</version></project>\n';

  beforeAll(async () => {
    upstream = await startRegistry(`auth:
  anonymousRead: false
repositories:
  npm-private: { format: npm, type: hosted }
  py-private: { format: pypi, type: hosted }
  mvn-private: { format: maven, type: hosted }
`);
    token = await createUserAndToken(upstream.configFile, 'mirror');
    // Seed the private upstream with the real clients (maven by plain PUTs: the layout is the API).
    const publisher = new NpmClient(`${upstream.url}/npm-private/`, token);
    const published = await publisher.npm(['publish'], makePackage({ name: 'rc-private-lib', version: '1.0.0' }));
    expect(published.code, published.stderr).toBe(0);
    const built = await buildProject({ name: 'rc-private-py', version: '1.0.0', module: 'rc_private_py' });
    const uploaded = await twineUpload(`${upstream.url}/py-private/`, '__token__', token, [built.wheel]);
    expect(uploaded.code, uploaded.stdout + uploaded.stderr).toBe(0);
    const basic = `Basic ${Buffer.from(`mirror:${token}`).toString('base64')}`;
    for (const [file, body] of [
      ['secret-1.0.0.jar', jar],
      ['secret-1.0.0.pom', Buffer.from(pom)],
    ] as const) {
      const put = await fetch(`${upstream.url}/mvn-private/com/example/secret/1.0.0/${file}`, { method: 'PUT', headers: { authorization: basic }, body });
      expect(put.status, await put.text()).toBeLessThan(300);
    }
    const dir = tempDir('upstream-auth');
    writeFileSync(path.join(dir, 'password'), `${token}\n`);
    writeFileSync(path.join(dir, 'token'), `${token}\n`);
    node = await startRegistry(
      `repositories:
  npm-proxy: { format: npm, type: proxy, upstream: "${upstream.url}/npm-private/", upstreamAuth: { token: "\${UPSTREAM_TOKEN}" } }
  npm-anon: { format: npm, type: proxy, upstream: "${upstream.url}/npm-private/" }
  py-proxy: { format: pypi, type: proxy, upstream: "${upstream.url}/py-private/simple/", upstreamAuth: { username: mirror, passwordFile: "${path.join(dir, 'password')}" } }
  py-anon: { format: pypi, type: proxy, upstream: "${upstream.url}/py-private/simple/" }
  mvn-proxy: { format: maven, type: proxy, upstream: "${upstream.url}/mvn-private/", upstreamAuth: { tokenFile: "${path.join(dir, 'token')}" } }
  mvn-anon: { format: maven, type: proxy, upstream: "${upstream.url}/mvn-private/" }
`,
      { env: { UPSTREAM_TOKEN: token } },
    );
  }, 240_000);

  afterAll(async () => {
    await node?.stop();
    await upstream?.stop();
  });

  it('lists at / only names, formats, types and URLs, of the repositories the caller may read', async () => {
    const root = await fetch(`${node.url}/`);
    expect(root.status).toBe(200);
    const text = await root.text();
    expect(text).not.toContain(token);
    const listed = (JSON.parse(text) as { repositories: Record<string, unknown>[] }).repositories;
    expect(listed.map((r) => r['name']).sort()).toEqual(['mvn-anon', 'mvn-proxy', 'npm-anon', 'npm-proxy', 'py-anon', 'py-proxy']);
    for (const r of listed) expect(Object.keys(r).sort()).toEqual(['format', 'name', 'type', 'url']);
    // The private upstream shows nothing to anonymous callers, its repositories to a user.
    const hidden = (await (await fetch(`${upstream.url}/`)).json()) as { repositories: unknown[] };
    expect(hidden.repositories).toEqual([]);
    const shown = (await (await fetch(`${upstream.url}/`, { headers: { authorization: `Bearer ${token}` } })).json()) as { repositories: { name: string }[] };
    expect(shown.repositories.map((r) => r.name).sort()).toEqual(['mvn-private', 'npm-private', 'py-private']);
    expect((await fetch(`${upstream.url}/`, { headers: { authorization: 'Bearer not-a-token' } })).status).toBe(401);
  });

  it('npm installs through a proxy that signs in with a token from the environment', async () => {
    const client = new NpmClient(`${node.url}/npm-proxy/`);
    const installed = await client.npm(['install', '--no-audit'], makeProject({ 'rc-private-lib': '^1.0.0' }));
    expect(installed.code, installed.stderr).toBe(0);
    const anon = await fetch(`${node.url}/npm-anon/rc-private-lib`);
    expect(anon.status).toBeGreaterThanOrEqual(400);
    const body = await anon.text();
    expect(body).not.toContain(token);
  });

  it('pip installs through a proxy that signs in with a password file', async () => {
    const venv = await makeVenv();
    const installed = await run(path.join(venv, 'bin', 'pip'), ['install', '--no-cache-dir', '--index-url', `${node.url}/py-proxy/simple/`, 'rc-private-py']);
    expect(installed.code, installed.stdout + installed.stderr).toBe(0);
    expect(installed.stdout).toMatch(/Successfully installed rc-private-py-1\.0\.0/);
    expect((await fetch(`${node.url}/py-anon/simple/rc-private-py/`)).status).toBeGreaterThanOrEqual(400);
  });

  it('a Maven proxy signs in with a token file and serves the artifact verified against its .sha1', async () => {
    const fetched = await fetch(`${node.url}/mvn-proxy/com/example/secret/1.0.0/secret-1.0.0.jar`);
    expect(fetched.status).toBe(200);
    expect(Buffer.from(await fetched.arrayBuffer())).toEqual(jar);
    expect(await (await fetch(`${node.url}/mvn-proxy/com/example/secret/1.0.0/secret-1.0.0.pom`)).text()).toBe(pom);
    const anon = await fetch(`${node.url}/mvn-anon/com/example/secret/1.0.0/secret-1.0.0.jar`);
    expect(anon.status).toBeGreaterThanOrEqual(400);
    expect(await anon.text()).not.toContain(token);
    // The server's own output never shows the secret.
    expect(node.output()).not.toContain(token);
  });
});
