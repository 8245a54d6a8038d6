// Graceful shutdown: on SIGTERM the server stops accepting, lets an in-flight upload
// finish and be stored, closes the database and exits 0; the data is there after restart.
import { request } from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createUserAndToken, repoRoot, startRegistry } from '../helpers/registry-process.js';

const rawPlugin = path.join(repoRoot, 'examples', 'raw-format-plugin');
const config = `plugins: ["${rawPlugin}"]\nrepositories:\n  files: { format: raw, type: hosted }\n`;

describe('graceful shutdown', () => {
  it('finishes an in-flight upload after SIGTERM, then exits 0', async () => {
    const registry = await startRegistry(config);
    const token = await createUserAndToken(registry.configFile, 'alice');
    const chunk = Buffer.alloc(64 * 1024, 7);
    const chunks = 10;
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${registry.url}/files/slow.bin`,
        { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-length': String(chunk.length * chunks) } },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      let sent = 0;
      const tick = () => {
        req.write(chunk);
        sent++;
        if (sent === 2) registry.process.kill('SIGTERM');
        if (sent < chunks) setTimeout(tick, 100);
        else req.end();
      };
      tick();
    });
    const result = await answer;
    expect(result.status).toBe(201);
    const code = await registry.stop();
    expect(code).toBe(0);
    expect(registry.output()).toMatch(/SIGTERM received/);

    const again = await startRegistry(config, { dir: registry.dir });
    try {
      const stored = await fetch(`${again.url}/files/slow.bin`);
      expect(stored.status).toBe(200);
      expect((await stored.arrayBuffer()).byteLength).toBe(chunk.length * chunks);
    } finally {
      await again.stop();
    }
  });
});

describe('moving a repository to another storage', () => {
  it('keeps serving what was stored before and writes new content to the new store', async () => {
    const registry = await startRegistry(config);
    const token = await createUserAndToken(registry.configFile, 'alice');
    const put = (url: string, p: string, body: string) => fetch(`${url}/files/${p}`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body });
    expect((await put(registry.url, 'old.txt', 'stored before the move')).status).toBe(201);
    await registry.stop();
    const moved = await startRegistry(
      `plugins: ["${rawPlugin}"]\nstorage:\n  other: { driver: fs, path: ./other-blobs }\nrepositories:\n  files: { format: raw, type: hosted, storage: other }\n`,
      { dir: registry.dir },
    );
    try {
      expect(await (await fetch(`${moved.url}/files/old.txt`)).text()).toBe('stored before the move');
      expect((await put(moved.url, 'new.txt', 'stored after the move')).status).toBe(201);
      const { readdirSync } = await import('node:fs');
      expect(readdirSync(path.join(registry.dir, 'other-blobs', 'sha256')).length).toBe(1);
    } finally {
      await moved.stop();
    }
  });
});
