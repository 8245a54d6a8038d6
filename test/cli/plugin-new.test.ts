// `registry-core plugin new`: the generated format plugin passes its own test (the format
// conformance kit of @registry-core/testing) untouched, from its own folder, and a registry
// listing it in its config serves it: publish to a hosted repository, read through a group.
// (From the workspace's packages, linked in: test/release publishes and installs by name.)
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, realpathSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createUserAndToken, repoRoot, runCli, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

const run = promisify(execFile);

describe('registry-core plugin new', () => {
  let registry: RunningRegistry | undefined;
  afterAll(async () => {
    await registry?.stop();
  });

  it('refuses a bad package name, a bad format id and a folder that is not empty', async () => {
    const cwd = tempDir('plugin-new-bad');
    const badName = await runCli(['plugin', 'new', 'Bad Name', '--format', 'x'], { cwd });
    expect(badName.code).not.toBe(0);
    expect(badName.stderr).toMatch(/not a valid npm package name/);
    const badFormat = await runCli(['plugin', 'new', 'rc-plugin-x', '--format', '../x'], { cwd });
    expect(badFormat.stderr).toMatch(/--format "\.\.\/x": lowercase letters/);
    mkdirSync(path.join(cwd, 'taken'));
    await run('touch', [path.join(cwd, 'taken', 'file')]);
    const taken = await runCli(['plugin', 'new', 'rc-plugin-x', '--format', 'x', '--dir', 'taken'], { cwd });
    expect(taken.stderr).toMatch(/exists and is not empty/);
  });

  it('writes a plugin that passes the conformance kit untouched and that a registry serves', async () => {
    const cwd = tempDir('plugin-new');
    const made = await runCli(['plugin', 'new', '@acme/registry-core-plugin-blobs', '--format', 'blobs'], { cwd });
    expect(made.code, made.stderr).toBe(0);
    const dir = path.join(cwd, 'registry-core-plugin-blobs');
    expect(made.stdout).toContain(`wrote 7 files in ${dir}`);
    const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name: string; registryCore: { contributes: { formats: { id: string }[] } }; devDependencies: Record<string, string> };
    expect(manifest.name).toBe('@acme/registry-core-plugin-blobs');
    expect(manifest.registryCore.contributes.formats[0]!.id).toBe('blobs');
    // Its development dependencies, from the workspace (what `npm install` would fetch).
    const modules = path.join(dir, 'node_modules');
    mkdirSync(path.join(modules, '@registry-core'), { recursive: true });
    mkdirSync(path.join(modules, '@types'), { recursive: true });
    symlinkSync(path.join(repoRoot, 'core', 'api'), path.join(modules, '@registry-core', 'api'));
    symlinkSync(path.join(repoRoot, 'core', 'testing'), path.join(modules, '@registry-core', 'testing'));
    for (const dependency of ['typescript', 'vitest', '@types/node']) symlinkSync(realpathSync(path.join(repoRoot, 'node_modules', dependency)), path.join(modules, dependency));
    // Its own test command, as its README says: build, then the kit.
    const tsc = path.join(modules, 'typescript', 'bin', 'tsc');
    const vitest = path.join(modules, 'vitest', 'vitest.mjs');
    await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir });
    const tested = await run(process.execPath, [vitest, 'run', '--root', dir], { cwd: dir, env: { ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('VITEST'))), CI: 'true', NO_COLOR: '1', FORCE_COLOR: '0' } }).catch((error: { stdout: string; stderr: string }) => error);
    // eslint-disable-next-line no-control-regex
    expect(tested.stdout.replace(/\u001b\[[0-9;]*m/g, ''), tested.stderr).toMatch(/Tests\s+12 passed \(12\)/);

    registry = await startRegistry(`
plugins: ["${dir}"]
repositories:
  blobs-local: { format: blobs, type: hosted }
  blobs: { format: blobs, type: group, members: [blobs-local] }
`);
    const token = await createUserAndToken(registry.configFile, 'maker');
    const put = await fetch(`${registry.url}/blobs/app/1.0.0/app.bin`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: 'the first build' });
    expect(put.status).toBe(201);
    const again = await fetch(`${registry.url}/blobs-local/app/1.0.0/app.bin`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: 'changed' });
    expect(again.status).toBe(409);
    const document = (await (await fetch(`${registry.url}/blobs/app`)).json()) as { versions: Record<string, { file: string; size: number }> };
    expect(document.versions['1.0.0']).toMatchObject({ file: 'app.bin', size: 15 });
    const file = await fetch(`${registry.url}/blobs/app/1.0.0/app.bin`);
    expect(file.status).toBe(200);
    expect(file.headers.get('x-registry-member')).toBe('blobs-local');
    expect(await file.text()).toBe('the first build');
    const listed = await runCli(['plugin', 'list', '--config', registry.configFile]);
    expect(listed.stdout).toMatch(/active\s+@acme\/registry-core-plugin-blobs@0\.1\.0\s+api \^1\.\d+\.0/);
  });
});
