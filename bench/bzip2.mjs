// The conda plugin's bzip2 encoder beside the system's `bzip2 -9` on a 50 MB repodata-like
// JSON document: throughput (MB/s of input), output size, peak memory; the output is checked
// with `bzip2 -dc`. Usage: node bench/bzip2.mjs [--mb 50] [--keep DIR]
// (after `pnpm install`, which builds plugins/conda/dist).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '50' }, keep: { type: 'string' } } });
const targetBytes = Number(values.mb) * 1e6;
const dir = values.keep ?? mkdtempSync(path.join(tmpdir(), 'rc-bench-bzip2-'));
const input = path.join(dir, 'repodata.json');

/** Records as conda-forge's look: varied names and dependencies, hashes that do not compress. */
function generate() {
  const words = ['py', 'lib', 'numpy', 'scipy', 'arrow', 'boost', 'cuda', 'zlib', 'openssl', 'torch', 'jax', 'xarray', 'dask', 'geo', 'proj', 'gdal', 'hdf5', 'netcdf', 'ssl', 'curl', 'git', 'r', 'base', 'tools', 'core', 'utils', 'data', 'io', 'plot', 'ml'];
  let seed = 42;
  const rnd = (n) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const hash = (s, a) => createHash(a).update(s).digest('hex');
  const parts = ['{"info":{"subdir":"linux-64"},"packages":{'];
  let size = parts[0].length;
  for (let i = 0; size < targetBytes; i++) {
    const name = `${words[rnd(30)]}-${words[rnd(30)]}${rnd(3) ? '' : `-${words[rnd(30)]}`}`;
    const version = `${rnd(5)}.${rnd(30)}.${rnd(12)}`;
    const buildNumber = rnd(8);
    const build = `py${39 + rnd(5)}h${hash(String(i), 'md5').slice(0, 7)}_${buildNumber}`;
    const depends = Array.from({ length: rnd(8) }, () => `${words[rnd(30)]}-${words[rnd(30)]} >=${rnd(5)}.${rnd(20)},<${rnd(5) + 5}.0a0`);
    const record = { build, build_number: buildNumber, depends, license: ['MIT', 'BSD-3-Clause', 'Apache-2.0', 'GPL-3.0-or-later'][rnd(4)], md5: hash(String(i), 'md5'), name, sha256: hash(String(i), 'sha256'), size: 1000 + rnd(5e7), subdir: 'linux-64', timestamp: 1600000000000 + rnd(1e9) * 100, version };
    if (rnd(3) === 0) record.constrains = [`${words[rnd(30)]} >=${rnd(9)}`];
    const line = `${i ? ',' : ''}"${name}-${version}-${build}.tar.bz2":${JSON.stringify(record)}`;
    parts.push(line);
    size += line.length;
  }
  parts.push('},"packages.conda":{},"removed":[],"repodata_version":1}');
  writeFileSync(input, parts.join(''));
}

/** Our encoder in a child process of its own (its RSS and CPU time alone). */
function ours(level) {
  const out = path.join(dir, `ours-${level}.bz2`);
  const script = `
    import { Bzip2Encoder } from ${JSON.stringify(new URL('../plugins/conda/dist/bzip2.js', import.meta.url).href)};
    import { createReadStream, createWriteStream } from 'node:fs';
    const encoder = new Bzip2Encoder({ level: ${level} });
    const sink = createWriteStream(${JSON.stringify(out)});
    const started = process.hrtime.bigint();
    for await (const chunk of createReadStream(${JSON.stringify(input)}, { highWaterMark: 64 * 1024 })) {
      const o = encoder.write(chunk);
      if (o.length > 0 && !sink.write(o)) await new Promise((r) => sink.once('drain', r));
    }
    sink.end(encoder.end());
    await new Promise((r) => sink.once('finish', r));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const usage = process.resourceUsage();
    console.log(JSON.stringify({ seconds, cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6, peakRssMB: usage.maxRSS / 1024 }));
  `;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(run.stderr);
  return { ...JSON.parse(run.stdout), out };
}

function reference(level) {
  const out = path.join(dir, `bzip2-${level}.bz2`);
  const run = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', 'sh', '-c', `bzip2 -${level} -c "$0" > "$1"`, input, out], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(run.stderr);
  const [elapsed, user, sys, maxKb] = run.stderr.trim().split('\n').pop().split(' ').map(Number);
  return { seconds: elapsed, cpuSeconds: user + sys, peakRssMB: maxKb / 1024, out };
}

generate();
const bytes = statSync(input).size;
console.log(`input: ${(bytes / 1e6).toFixed(1)} MB repodata-like JSON; ${cpus().length} CPUs, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const rows = [];
for (const level of [9, 1]) {
  for (const [who, measure] of [['registry-core (TypeScript)', ours], ['bzip2 (C)', reference]]) {
    const m = measure(level);
    const back = execFileSync('bzip2', ['-dc', m.out], { maxBuffer: 2 * bytes });
    if (!back.equals(readFileSync(input))) throw new Error(`${who} -${level}: bzip2 -dc gave other bytes`);
    rows.push(`| ${who} | -${level} | ${(bytes / 1e6 / m.seconds).toFixed(2)} MB/s (${m.seconds.toFixed(1)} s) | ${(bytes / 1e6 / m.cpuSeconds).toFixed(2)} MB/s | ${(statSync(m.out).size / 1e6).toFixed(2)} MB | ${Math.round(m.peakRssMB)} MB |`);
  }
}
console.log(`load after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log('| encoder | level | wall-clock throughput | per CPU second | output | peak RSS |\n| --- | --- | --- | --- | --- | --- |');
console.log(rows.join('\n'));
if (!values.keep) rmSync(dir, { recursive: true, force: true });
