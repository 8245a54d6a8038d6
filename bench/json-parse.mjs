// node bench/json-parse.mjs [--runs 10]
//
// The kernel's yielding JSON parse (core/kernel engine/yielding-json.ts, what every upstream
// metadata document read goes through) against JSON.parse, on generated npm packuments of
// about 0.1, 4.5 and 60 MB (versions of the shape npm serves: a manifest with scripts,
// dependencies and dist). Per size: JSON.parse of the whole text (decoding included), the
// yielding parse with its default runs (32 KiB), and with the 256 KiB runs it used before.
// Prints milliseconds per parse (median of --runs) and the ratios. Needs `pnpm build` first.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from './lib.mjs';

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '10' } } });
const runs = Number(args.runs);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { parseJsonYielding } = await import(path.join(root, 'core/kernel/dist/engine/yielding-json.js'));

function packument(versionCount) {
  const versions = {};
  const time = {};
  for (let v = 0; v < versionCount; v++) {
    const version = `1.${Math.floor(v / 100)}.${v % 100}`;
    versions[version] = {
      name: 'bench-package',
      version,
      description: 'A package generated for the parse benchmark, with a description of ordinary length.',
      main: 'index.js',
      scripts: { test: 'node test.js', build: 'tsc -p .' },
      dependencies: Object.fromEntries(Array.from({ length: 8 }, (_, d) => [`dependency-${d}`, `^${d}.${v % 10}.0`])),
      devDependencies: Object.fromEntries(Array.from({ length: 6 }, (_, d) => [`dev-dependency-${d}`, `~${d}.1.${v % 7}`])),
      maintainers: [{ name: 'someone', email: 'someone@example.org' }],
      dist: {
        tarball: `https://registry.example.org/bench-package/-/bench-package-${version}.tgz`,
        shasum: 'a'.repeat(40),
        integrity: `sha512-${'B'.repeat(86)}==`,
        fileCount: 12,
        unpackedSize: 34567,
      },
      _id: `bench-package@${version}`,
    };
    time[version] = new Date(Date.UTC(2020, 0, 1) + v * 86_400_000).toISOString();
  }
  return { _id: 'bench-package', name: 'bench-package', 'dist-tags': { latest: Object.keys(versions).at(-1) }, versions, time, readme: 'r'.repeat(20_000) };
}

async function timeOf(fn) {
  await fn();
  const times = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await fn();
    times.push(performance.now() - started);
  }
  return median(times);
}

console.log('| document | JSON.parse | yielding, 32 KiB runs (default) | yielding, 256 KiB runs (before) | default / JSON.parse | default / before |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const count of [80, 4_000, 53_000]) {
  const bytes = Buffer.from(JSON.stringify(packument(count)));
  const native = await timeOf(() => JSON.parse(bytes.toString('utf8')));
  const current = await timeOf(() => parseJsonYielding(bytes));
  const before = await timeOf(() => parseJsonYielding(bytes, { sliceBytes: 256 * 1024 }));
  const mb = (bytes.length / 1e6).toFixed(1);
  console.log(`| ${mb} MB (${count} versions) | ${native.toFixed(2)} ms | ${current.toFixed(2)} ms | ${before.toFixed(2)} ms | ${(current / native).toFixed(2)}x | ${(current / before).toFixed(2)}x |`);
}
