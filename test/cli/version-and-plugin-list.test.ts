// `registry-core --version` names every @registry-core package it runs with, and
// `registry-core plugin list` shows each plugin found with its version, the API range it
// wants and whether it is loaded (or why not). The same commands run from an installed
// package in test/release/publish-and-npx.test.ts.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, runCli, tempDir } from '../helpers/registry-process.js';

const versionOf = (dir: string) => (JSON.parse(readFileSync(path.join(repoRoot, dir, 'package.json'), 'utf8')) as { version: string }).version;

describe('registry-core --version and plugin list', () => {
  it('--version prints registry-core and each @registry-core package with its version', async () => {
    const out = await runCli(['--version']);
    expect(out.code).toBe(0);
    const lines = out.stdout.trim().split('\n');
    expect(lines[0]).toBe(`registry-core ${versionOf('cli')}`);
    expect(lines).toContain(`@registry-core/api ${versionOf('core/api')}`);
    expect(lines).toContain(`@registry-core/kernel ${versionOf('core/kernel')}`);
    expect(lines).toContain(`@registry-core/plugin-pypi ${versionOf('plugins/pypi')}`);
    expect(lines).toContain(`@registry-core/storage-fs ${versionOf('storage-drivers/fs')}`);
    const cliDeps = Object.keys((JSON.parse(readFileSync(path.join(repoRoot, 'cli', 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies);
    expect(lines.slice(1, -1).map((l) => l.split(' ')[0])).toEqual(cliDeps.filter((d) => d.startsWith('@registry-core/')).sort());
    expect(lines.at(-1)).toBe(`node ${process.version}`);
  });

  it('`plugin list` shows the version, the API range each plugin wants and its state, a refused one with the range it asked for', async () => {
    const dir = tempDir('plugin-list');
    const file = path.join(dir, 'registry-core.config.yaml');
    writeFileSync(
      file,
      `plugins: ["${path.join(repoRoot, 'test', 'kernel', 'fixtures', 'wants-api-2')}", "@registry-core/plugin-npm", "@registry-core/plugin-pypi"]\nrepositories:\n  npm-local: { format: npm, type: hosted }\n`,
    );
    const listed = await runCli(['plugin', 'list', '--config', file]);
    expect(listed.code, listed.stderr).toBe(0);
    const lines = listed.stdout.trim().split('\n');
    expect(lines[0]).toBe(`@registry-core/api ${versionOf('core/api')} (the plugin API this host provides)`);
    expect(lines).toContainEqual(expect.stringMatching(/^refused +fixture-wants-api-2@3\.1\.0 +api \^2\.0\.0 +plugin fixture-wants-api-2 wants @registry-core\/api \^2\.0\.0, but this host provides /));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^active +@registry-core/plugin-npm@${versionOf('plugins/npm')} +api \\^1\\.0\\.0$`)));
    expect(lines).toContainEqual(expect.stringMatching(/^inactive +@registry-core\/plugin-pypi@\S+ +api \^1\.0\.0 +.*is used by the config/));
    expect(lines).toContainEqual(expect.stringMatching(/^active +@registry-core\/storage-fs@\S+ +api \^1\.0\.0 \(implicit\)$/));
    const json = JSON.parse((await runCli(['plugins', 'list', '--json', '--config', file])).stdout) as { name: string; api: string; status: string }[];
    expect(json.find((p) => p.name === 'fixture-wants-api-2')).toMatchObject({ api: '^2.0.0', status: 'refused' });
  });
});
