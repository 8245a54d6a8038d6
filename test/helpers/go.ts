import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { storedZip } from '@registry-core/testing';
import { tempDir } from './registry-process.js';

/** Debian's go command (`apt-get install golang-go`), whatever its version. */
export const GO = '/usr/bin/go';

/** A module zip as the go command builds one: every file under `<module>@<version>/`. */
export function moduleZip(module: string, version: string, files: Readonly<Record<string, string>>): Buffer {
  return storedZip(Object.entries(files).map(([name, text]) => [`${module}@${version}/${name}`, Buffer.from(text)]));
}

/**
 * A go command environment of its own (GOPATH, module and build caches in a fresh folder,
 * no user go env file) reading modules from `goproxy` only; the modules are not in the public
 * checksum database, so GONOSUMDB covers them.
 */
export function goEnvironment(goproxy: string, options: { home?: string; noSumDb?: string } = {}): NodeJS.ProcessEnv {
  const home = options.home ?? tempDir('go-home');
  return {
    PATH: process.env['PATH'],
    HOME: home,
    GOPATH: path.join(home, 'gopath'),
    GOMODCACHE: path.join(home, 'gopath', 'pkg', 'mod'),
    GOCACHE: path.join(home, 'cache'),
    GOENV: 'off',
    GOFLAGS: '-modcacherw',
    GOPROXY: goproxy,
    GONOSUMDB: options.noSumDb ?? 'example.com',
    GOTOOLCHAIN: 'local',
    GO111MODULE: 'on',
    CGO_ENABLED: '0',
  };
}

/** Run the go command; resolves its exit code and output (never rejects). */
export function runGo(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(GO, [...args], { cwd, env, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
    );
  });
}

/** Write a main module (go.mod at `go 1.19`, two-part, as Debian 12's go requires) into a fresh folder. */
export function writeMainModule(module: string, files: Readonly<Record<string, string>>): string {
  const dir = tempDir('go-app');
  writeFileSync(path.join(dir, 'go.mod'), `module ${module}\n\ngo 1.19\n`);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

export { startFakeSumdb, fakeSumdbTree, type FakeSumdb, type FakeSumdbTree } from './go-sumdb.js';
