// What a newcomer meets in the first hour besides the zero-config banner (zero-config.test.ts):
// proxies configured without an upstream, the data folder, the one-shot commands' output, the
// access log, and a Maven upstream that publishes no checksums.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, runCli, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

const rawPlugin = path.join(repoRoot, 'examples', 'raw-format-plugin');

/** The JSON log lines of a server's output. */
const logLines = (output: string) =>
  output.split('\n').flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });

describe('config check', () => {
  it('accepts proxies without an upstream where the format has a default, and names those without one', async () => {
    const dir = tempDir('check');
    const file = path.join(dir, 'registry-core.config.yaml');
    writeFileSync(
      file,
      `repositories:
  oci-proxy: { format: oci, type: proxy }
  pypi-proxy: { format: pypi, type: proxy }
`,
    );
    const ok = await runCli(['config', 'check', '--config', file], { env: { PIP_INDEX_URL: '' } });
    expect(ok.stdout).toContain('config OK');
    expect(ok.code).toBe(0);

    // A format without a default upstream (the raw example format has none): a clear problem.
    writeFileSync(
      file,
      `plugins: ["${rawPlugin}"]
repositories:
  raw-proxy: { format: raw, type: proxy }
`,
    );
    const refused = await runCli(['config', 'check', '--config', file]);
    expect(refused.stdout).toContain('problem: repository raw-proxy: upstream: required (format raw has no default upstream)');
    expect(refused.code).toBe(1);
  });
});

describe('one-shot commands', () => {
  let dir: string;
  let file: string;
  beforeAll(() => {
    dir = tempDir('oneshot');
    file = path.join(dir, 'registry-core.config.yaml');
    writeFileSync(file, 'repositories:\n  npm-proxy: { format: npm, type: proxy, upstream: "http://127.0.0.1:9/" }\n');
  });

  it('cache ttl list says there are none', async () => {
    const listed = await runCli(['cache', 'ttl', 'list', '--config', file]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^no TTL overrides/);
  });

  it('cache clean prints its summary without a JSON log line', async () => {
    const cleaned = await runCli(['cache', 'clean', '--config', file]);
    expect(cleaned.code).toBe(0);
    expect(cleaned.stdout).toMatch(/^removed: 0 expired metadata/);
    expect(`${cleaned.stdout}${cleaned.stderr}`).not.toMatch(/^\{/m);
  });
});

describe('a server on a config with no logging settings', () => {
  let registry: RunningRegistry;
  let elsewhere: string;
  beforeAll(async () => {
    elsewhere = path.join(tempDir('pinned'), 'data');
    registry = await startRegistry('auth: { anonymousRead: true }\nrepositories:\n  npm-local: { format: npm, type: hosted }\n', { env: { REGISTRY_CORE_DATA_DIR: elsewhere } });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('uses the pinned data folder and says so', () => {
    expect(registry.output()).toContain(`data: ${elsewhere} (REGISTRY_CORE_DATA_DIR)`);
    expect(existsSync(path.join(elsewhere, 'registry.sqlite'))).toBe(true);
    expect(existsSync(path.join(registry.dir, 'registry-data'))).toBe(false);
  });

  it('logs one access line per request at the default level, without the query', async () => {
    const answer = await fetch(`${registry.url}/npm-local/no-such-package?token=query-secret-1`, { headers: { 'x-request-id': 'access-log-1' } });
    expect(answer.status).toBe(404);
    await expect.poll(() => logLines(registry.output()).filter((l) => l['requestId'] === 'access-log-1')).toHaveLength(1);
    const [line] = logLines(registry.output()).filter((l) => l['requestId'] === 'access-log-1');
    expect(line).toMatchObject({ level: 'info', msg: 'request', method: 'GET', path: '/npm-local/no-such-package', status: 404 });
    expect(registry.output()).not.toContain('query-secret-1');
  });
});

describe('a Maven upstream that publishes no checksums', () => {
  let upstream: Server;
  let registry: RunningRegistry | undefined;
  beforeAll(async () => {
    // Jars and POMs, never a .sha1 or .md5 (some plain file servers and old mirrors).
    upstream = createServer((req, res) => {
      if (/\.(jar|pom)$/.test(req.url ?? '')) res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(`bytes of ${req.url}`);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  });
  afterEach(async () => {
    await registry?.stop();
  });
  afterAll(() => {
    upstream.close();
  });

  it('is warned about once per repository, not once per artifact', async () => {
    const port = (upstream.address() as AddressInfo).port;
    registry = await startRegistry(`repositories:
  central: { format: maven, type: proxy, upstream: "http://127.0.0.1:${port}/" }
  other: { format: maven, type: proxy, upstream: "http://127.0.0.1:${port}/" }
`);
    const files = ['com/example/a/1.0/a-1.0.jar', 'com/example/a/1.0/a-1.0.pom', 'com/example/b/2.0/b-2.0.jar', 'org/example/c/3.1/c-3.1.jar'];
    for (const file of files) {
      const answer = await fetch(`${registry.url}/central/${file}`);
      expect(answer.status, file).toBe(200);
      expect(await answer.text()).toBe(`bytes of /${file}`);
    }
    expect((await fetch(`${registry.url}/other/${files[0]}`)).status).toBe(200);
    const warnings = logLines(registry.output()).filter((l) => l['level'] === 'warn' && String(l['msg']).includes('publishes no checksum'));
    expect(warnings.map((w) => w['repository']).sort()).toEqual(['central', 'other']);
    expect(String(warnings[0]!['msg'])).toContain(`upstream http://127.0.0.1:${port}/ publishes no checksum`);
  });
});
