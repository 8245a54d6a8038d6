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
