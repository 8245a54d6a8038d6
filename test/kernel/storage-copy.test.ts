// registry-core storage copy: an operator moves a registry's blobs to another store,
// verified, resumable, then points the metadata at it and retires the old store.
import { createHash } from 'node:crypto';
import { readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createUserAndToken, repoRoot, runCli, startRegistry } from '../helpers/registry-process.js';

const plugin = path.join(repoRoot, 'examples', 'raw-format-plugin');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    return statSync(full).isDirectory() ? files(full) : [full];
  });
}

describe('registry-core storage copy', () => {
  it('copies, verifies, resumes, switches the metadata, and the registry then serves from the new store alone', async () => {
    const config = (repositoryStorage: string) => `plugins: ["${plugin}"]
storage:
  old: { driver: fs, path: ./old-blobs }
  new: { driver: fs, path: ./new-blobs }
repositories:
  files: { format: raw, type: hosted, storage: ${repositoryStorage} }
`;
    const registry = await startRegistry(config('old'));
    const token = await createUserAndToken(registry.configFile, 'mover');
    for (const name of ['a', 'b', 'c']) {
      const put = await fetch(`${registry.url}/files/${name}.txt`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: `content of ${name}` });
      expect(put.status).toBe(201);
    }
    await registry.stop();

    const copy = (...extra: string[]) => runCli(['storage', 'copy', '--from', 'old', '--to', 'new', ...extra, '--config', registry.configFile]);
    const first = await copy();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('3 blobs: 3 copied (36 bytes), 0 already there, 0 failed');
    expect(first.stderr).toMatch(/\[#{20}\] 100% 3\/3 blobs/);
    // Interrupted or not, a second run only checks.
    expect((await copy()).stdout).toContain('3 blobs: 0 copied (0 bytes), 3 already there, 0 failed');

    // A blob that rotted in the old store is not copied, and the metadata stays put.
    const newBlobs = files(path.join(registry.dir, 'new-blobs')).filter((f) => !f.includes('.tmp'));
    rmSync(newBlobs[0]!);
    const oldVictim = files(path.join(registry.dir, 'old-blobs')).find((f) => f.endsWith(path.basename(newBlobs[0]!)))!;
    writeFileSync(oldVictim, 'bit rot');
    const refused = await copy('--switch');
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/FAILED sha256\//);
    expect(refused.stdout).toContain('metadata not switched');

    // Repaired (the right bytes put back), the copy completes and switches.
    const name = ['a', 'b', 'c'].find((n) => path.basename(oldVictim) === createHash('sha256').update(`content of ${n}`).digest('hex'))!;
    writeFileSync(oldVictim, `content of ${name}`);
    const switched = await copy('--switch');
    expect(switched.code, switched.stdout).toBe(0);
    expect(switched.stdout).toContain('3 assets now in new');

    // The old store is gone; the registry serves everything from the new one.
    rmSync(path.join(registry.dir, 'old-blobs'), { recursive: true, force: true });
    const moved = await startRegistry(config('new'), { dir: registry.dir });
    try {
      for (const n of ['a', 'b', 'c']) expect(await (await fetch(`${moved.url}/files/${n}.txt`)).text()).toBe(`content of ${n}`);
      expect((await runCli(['cache', 'verify', '--config', moved.configFile])).stdout).toContain('checked 3 assets, 0 bad');
    } finally {
      await moved.stop();
    }
  });
});

