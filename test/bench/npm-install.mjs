#!/usr/bin/env node
// Benchmark: wall time of `npm install` of a project with a few hundred dependencies,
// cold (empty registry cache) and warm (registry cache filled) through a registry-core
// group, beside the same install straight from the upstream, plus the server's peak
// memory. The upstream is the registry the local npm client is configured with.
// Not part of the test command: it needs that upstream. Run: pnpm bench
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(root, 'cli', 'bin', 'registry-core.js');
const upstream = execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim();
const dependencies = { express: '^4.21.0', webpack: '^5.90.0', eslint: '^8.57.0', jest: '^29.7.0' };

function project() {
  const dir = mkdtempSync(path.join(tmpdir(), 'rc-bench-project-'));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'bench', version: '1.0.0', private: true, dependencies }));
  return dir;
}

function install(registry, label) {
  const dir = project();
  const cache = mkdtempSync(path.join(tmpdir(), 'rc-bench-cache-'));
  const started = performance.now();
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', `--registry=${registry}`, `--cache=${cache}`, '--prefer-online', '--replace-registry-host=never'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, npm_config_userconfig: path.join(dir, '.npmrc-none') },
  });
  const seconds = (performance.now() - started) / 1000;
  const lock = JSON.parse(readFileSync(path.join(dir, 'package-lock.json'), 'utf8'));
  const packages = Object.keys(lock.packages).length - 1;
  rmSync(dir, { recursive: true, force: true });
  rmSync(cache, { recursive: true, force: true });
  console.log(`${label.padEnd(34)} ${seconds.toFixed(1).padStart(6)} s   ${packages} packages`);
  return { seconds, packages };
}

function peakRssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)[1]) / 1024;
}
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 10 ms
}
function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
}

async function startRegistry() {
  const dir = mkdtempSync(path.join(tmpdir(), 'rc-bench-registry-'));
  const child = spawn(process.execPath, [cli, 'start', '--port', '0'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stderr.on('data', (d) => (out += d));
  const port = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on port (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', () => reject(new Error(out)));
  });
  return { child, port, dir };
}

console.log(`upstream: the local npm client's registry; project: ${Object.keys(dependencies).join(', ')}`);
const direct = install(upstream, 'straight from upstream');
const registry = await startRegistry();
const group = `http://127.0.0.1:${registry.port}/npm/`;
const idle = rssMb(registry.child.pid);
const cpu0 = cpuSeconds(registry.child.pid);
const cold = install(group, 'registry-core group, cold');
const afterCold = peakRssMb(registry.child.pid);
const cpu1 = cpuSeconds(registry.child.pid);
const warm = install(group, 'registry-core group, warm');
const peak = peakRssMb(registry.child.pid);
const cpu2 = cpuSeconds(registry.child.pid);
console.log(`server memory: idle ${idle.toFixed(0)} MB, peak after cold ${afterCold.toFixed(0)} MB, peak after warm ${peak.toFixed(0)} MB`);
console.log(`server CPU: cold ${(cpu1 - cpu0).toFixed(1)} s, warm ${(cpu2 - cpu1).toFixed(1)} s`);
console.log(`ratios: cold/direct ${(cold.seconds / direct.seconds).toFixed(2)}, warm/direct ${(warm.seconds / direct.seconds).toFixed(2)}`);
registry.child.kill('SIGTERM');
await new Promise((r) => registry.child.on('exit', r));
rmSync(registry.dir, { recursive: true, force: true });
