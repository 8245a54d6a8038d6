import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { tempDir } from './registry-process.js';

export interface CargoResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The machine's cargo: on PATH, else rustup's `~/.cargo/bin` (where rustc is too). */
export function findCargo(): string {
  for (const dir of [...(process.env['PATH'] ?? '').split(path.delimiter), path.join(homedir(), '.cargo', 'bin')]) {
    if (dir && existsSync(path.join(dir, 'cargo'))) return path.join(dir, 'cargo');
  }
  throw new Error('cargo is not installed (neither on PATH nor in ~/.cargo/bin)');
}

/** A cargo with a CARGO_HOME of its own (config, caches, no credentials but those given). */
export interface CargoClient {
  readonly home: string;
  run(args: readonly string[], options?: { cwd?: string; env?: NodeJS.ProcessEnv }): Promise<CargoResult>;
}

/** A fresh CARGO_HOME with `config` as its config.toml. */
export function cargoClient(config: string): CargoClient {
  const cargo = findCargo();
  const home = tempDir('cargo-home');
  writeFileSync(path.join(home, 'config.toml'), config);
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^(CARGO|RUST)/.test(key)) env[key] = value;
  // rustc and the rest of the toolchain sit beside cargo.
  env['PATH'] = [path.dirname(cargo), env['PATH'] ?? ''].join(path.delimiter);
  return {
    home,
    run(args, options = {}) {
      return new Promise((resolve) => {
        const child = spawn(cargo, args, {
          cwd: options.cwd ?? home,
          env: { ...env, CARGO_HOME: home, CARGO_TERM_COLOR: 'never', CARGO_NET_RETRY: '0', CARGO_HTTP_TIMEOUT: '60', ...options.env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    },
  };
}

/** A crate's folder with a Cargo.toml (`[dependencies]` lines given) and `src/<lib.rs|main.rs>`. */
export function crateProject(name: string, version: string, options: { dependencies?: readonly string[]; source: string; bin?: boolean; description?: string }): string {
  const dir = path.join(tempDir('crate'), name);
  mkdirSync(path.join(dir, 'src'), { recursive: true });
  writeFileSync(
    path.join(dir, 'Cargo.toml'),
    [
      '[package]',
      `name = "${name}"`,
      `version = "${version}"`,
      'edition = "2021"',
      `description = "${options.description ?? `${name} for registry-core tests`}"`,
      'license = "MIT"',
      '',
      '[dependencies]',
      ...(options.dependencies ?? []),
      '',
    ].join('\n'),
  );
  writeFileSync(path.join(dir, 'src', options.bin ? 'main.rs' : 'lib.rs'), options.source);
  return dir;
}
