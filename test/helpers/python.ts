import { spawn } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { tempDir } from './registry-process.js';

/** Debian's Python (with its venv, pip, setuptools and wheel packages) and twine. */
export const PYTHON = '/usr/bin/python3';
export const TWINE = '/usr/bin/twine';
export const POETRY = '/usr/bin/poetry';

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Environment of a Python client with nothing from the user's own config or caches. */
function cleanEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^(PIP_|PYTHON|TWINE_|VIRTUAL_ENV|PYENV)/.test(key)) env[key] = value;
  return { ...env, HOME: home, PIP_CONFIG_FILE: '/dev/null', PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1', PYTHONDONTWRITEBYTECODE: '1', ...extra };
}

export function run(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; home?: string } = {}): Promise<RunResult> {
  const home = options.home ?? tempDir('py-home');
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd ?? home, env: cleanEnv(home, options.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Where a template venv records the folder it was made in (its scripts name that folder). */
const ORIGIN = '.rc-template-origin';
let template: Promise<string> | undefined;

/**
 * The run's template virtual environment, made once by `python3 -m venv` (which installs pip
 * and setuptools into it with ensurepip: about 4 s) and shared by the run's test files (the
 * vitest process is their parent).
 */
function venvTemplate(): Promise<string> {
  template ??= (async () => {
    const dir = path.join(tmpdir(), `rc-venv-template-${process.getuid?.() ?? 0}-${process.ppid}`);
    if (existsSync(path.join(dir, ORIGIN))) return dir;
    const building = path.join(tempDir('venv-template'), 'venv');
    const made = await run(PYTHON, ['-m', 'venv', building]);
    if (made.code !== 0) throw new Error(`python3 -m venv failed: ${made.stderr}`);
    writeFileSync(path.join(building, ORIGIN), building);
    try {
      renameSync(building, dir);
    } catch (error) {
      // Another file of the run made it first.
      if (!existsSync(path.join(dir, ORIGIN))) throw error;
    }
    return dir;
  })();
  return template;
}

/**
 * A fresh virtual environment; resolves its folder (`bin/pip`, `bin/python`). It is a copy of
 * the run's template (what `python3 -m venv` makes, pip and setuptools in it, nothing else
 * installed) with the folder it names changed to its own in its scripts and pyvenv.cfg, as
 * `python3 -m venv` would have written them there.
 */
export async function makeVenv(): Promise<string> {
  const source = await venvTemplate();
  const origin = readFileSync(path.join(source, ORIGIN), 'utf8');
  const dir = path.join(tempDir('venv'), 'venv');
  cpSync(source, dir, { recursive: true, verbatimSymlinks: true, filter: (file) => path.basename(file) !== ORIGIN });
  for (const file of [path.join(dir, 'pyvenv.cfg'), ...readdirSync(path.join(dir, 'bin')).map((name) => path.join(dir, 'bin', name))]) {
    if (!lstatSync(file).isFile()) continue;
    const text = readFileSync(file, 'latin1');
    if (text.includes(origin)) writeFileSync(file, text.replaceAll(origin, dir), 'latin1');
  }
  return dir;
}

/**
 * Build a wheel and an sdist of a one-module project with setuptools (no network: no
 * build isolation). Resolves the two files' paths.
 */
export async function buildProject(project: { name: string; version: string; requires?: readonly string[]; requiresPython?: string; module: string; readme?: string }): Promise<{ wheel: string; sdist: string; dir: string }> {
  const dir = tempDir('py-project');
  writeFileSync(path.join(dir, `${project.module}.py`), `VERSION = ${JSON.stringify(project.version)}\n`);
  writeFileSync(
    path.join(dir, 'setup.py'),
    [
      'from setuptools import setup',
      'setup(',
      `    name=${JSON.stringify(project.name)},`,
      `    version=${JSON.stringify(project.version)},`,
      `    py_modules=[${JSON.stringify(project.module)}],`,
      `    install_requires=${JSON.stringify(project.requires ?? [])},`,
      ...(project.requiresPython ? [`    python_requires=${JSON.stringify(project.requiresPython)},`] : []),
      `    description=${JSON.stringify(`${project.name} for registry-core tests`)},`,
      ...(project.readme ? [`    long_description=${JSON.stringify(project.readme)},`, "    long_description_content_type='text/markdown',"] : []),
      ')',
      '',
    ].join('\n'),
  );
  const dist = path.join(dir, 'dist');
  mkdirSync(dist);
  const wheel = await run(PYTHON, ['-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--no-index', '-w', dist, '.'], { cwd: dir });
  if (wheel.code !== 0) throw new Error(`pip wheel failed: ${wheel.stdout}${wheel.stderr}`);
  const sdist = await run(PYTHON, ['setup.py', '-q', 'sdist', '-d', dist], { cwd: dir });
  if (sdist.code !== 0) throw new Error(`setup.py sdist failed: ${sdist.stderr}`);
  const files = readdirSync(dist);
  return { wheel: path.join(dist, files.find((f) => f.endsWith('.whl'))!), sdist: path.join(dist, files.find((f) => f.endsWith('.tar.gz'))!), dir };
}

/** `twine upload` of `files` to `repositoryUrl` with a user and password (or `__token__` and a token). */
export function twineUpload(repositoryUrl: string, user: string, password: string, files: readonly string[], extra: readonly string[] = []): Promise<RunResult> {
  return run(TWINE, ['upload', '--non-interactive', '--disable-progress-bar', '--repository-url', repositoryUrl, '-u', user, '-p', password, ...extra, ...files]);
}
