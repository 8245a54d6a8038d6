// `registry-core cache verify` and `cache clean` against a real registry's data: a
// corrupted blob is found and dropped, unused proxy content is removed, hosted content
// never is.
import { createHash } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUserAndToken, repoRoot, runCli, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

const plugin = path.join(repoRoot, 'examples', 'raw-format-plugin');

function blobFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk(path.join(root, 'sha256'));
  return out;
}

describe('cache verify and clean', () => {
  let upstream: Server;
  let registry: RunningRegistry;
  let config: string;

  beforeAll(async () => {
    upstream = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`upstream ${req.url}`));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', () => resolve()));
    config = `plugins: ["${plugin}"]
cleanup: { intervalHours: 0, unusedDays: 30 }
repositories:
  local: { format: raw, type: hosted }
  remote: { format: raw, type: proxy, upstream: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}/" }
`;
    registry = await startRegistry(config);
    const token = await createUserAndToken(registry.configFile, 'alice');
    expect((await fetch(`${registry.url}/local/keep.txt`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: 'hosted bytes' })).status).toBe(201);
    for (const f of ['a.txt', 'b.txt']) expect((await fetch(`${registry.url}/remote/${f}`)).status).toBe(200);
    await registry.stop();
  });
  afterAll(() => upstream?.close());

  it('verifies, finds a corrupted blob, and drops it with --repair', async () => {
    const ok = await runCli(['cache', 'verify', '--config', registry.configFile]);
    expect(ok.stdout).toContain('checked 3 assets, 0 bad');
    expect(ok.code).toBe(0);
    // Corrupt the blob of the proxied b.txt (found by its content address).
    const sha = createHash('sha256').update('upstream /b.txt').digest('hex');
    const victim = blobFiles(path.join(registry.dir, 'registry-data', 'blobs')).find((f) => f.endsWith(sha))!;
    expect(victim).toBeTruthy();
    writeFileSync(victim, 'bit rot');
    const found = await runCli(['cache', 'verify', '--config', registry.configFile]);
    expect(found.code).toBe(1);
    expect(found.stdout).toMatch(/BAD remote\/b\.txt: size is 7/);
    const repaired = await runCli(['cache', 'verify', '--repair', '--config', registry.configFile]);
    expect(repaired.stdout).toContain('(dropped)');
    expect((await runCli(['cache', 'verify', '--config', registry.configFile])).stdout).toContain('checked 2 assets, 0 bad');
  });

  it('removes unused proxy content (dry run first), never hosted content', async () => {
    const dry = await runCli(['cache', 'clean', '--dry-run', '--unused-days', '0', '--config', registry.configFile]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/would remove: 0 expired metadata, \d unused artifacts/);
    const cleaned = await runCli(['cache', 'clean', '--unused-days', '0', '--config', registry.configFile]);
    expect(cleaned.stdout).toMatch(/^removed: 0 expired metadata, \d unused artifacts/m);
    const again = await startRegistry(config, { dir: registry.dir });
    try {
      expect(await (await fetch(`${again.url}/local/keep.txt`)).text()).toBe('hosted bytes');
      const refetched = await fetch(`${again.url}/remote/a.txt`);
      expect(refetched.headers.get('x-cache')).toBe('MISS');
    } finally {
      await again.stop();
    }
  });
});
