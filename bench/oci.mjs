#!/usr/bin/env node
// registry-core's OCI plugin side by side with the CNCF distribution registry (Debian's
// docker-registry), on this machine, in one run: skopeo pushes a generated ~1 GiB image to
// each and pulls it back; median times, MiB/s, ratios, and each server's resident memory
// (VmRSS sampled every 100 ms) during each phase. Not part of the test command.
//
//   apt-get install -y docker-registry skopeo     # once
//   node bench/oci.mjs [--size MiB] [--runs N] [--layers N]
//
// Every run starts both servers afresh on empty data folders (so no push is shortened by
// blobs a registry already has) and pushes the same image, generated once per invocation.
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import { cleanup, cpuSeconds, fail, flag, fmt, freePort, median, memory, spawnServer, tarHeader, temp } from './lib.mjs';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(benchDir, '..');
const cli = path.join(root, 'cli', 'bin', 'registry-core.js');
const SKOPEO = '/usr/bin/skopeo';
const DISTRIBUTION = '/usr/bin/docker-registry';

const SIZE_MIB = Number(flag('size', '1024'));
const RUNS = Number(flag('runs', '3'));
const LAYERS = Number(flag('layers', '4'));
const SAMPLE_MS = 100;
// Extra Node.js flags for the registry-core server only (profiling: --cpu-prof --cpu-prof-dir=DIR).
const SERVER_NODE_ARGS = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
const USER = 'bench';
const PASSWORD = 'bench-password-1';
const REPOSITORY = 'oci-local';
const IMAGE = 'bench/img';
const TAG = '1';

for (const [name, value] of [['size', SIZE_MIB], ['runs', RUNS], ['layers', LAYERS]]) {
  if (!Number.isInteger(value) || value < 1) fail(`--${name} must be a positive integer`);
}
if (!existsSync(SKOPEO)) fail('skopeo is missing: apt-get install -y skopeo');
if (!existsSync(DISTRIBUTION)) fail('docker-registry is missing: apt-get install -y docker-registry');
if (!existsSync(path.join(root, 'cli', 'dist', 'index.js'))) fail('registry-core is not built: pnpm install (at the repository root)');

// ---------------------------------------------------------------- processes and cleanup

/** registry-core on its embedded defaults (SQLite, fs storage), one hosted OCI repository on a port of its own. */
async function startRegistryCore() {
  const dir = temp('registry-core');
  const config = path.join(dir, 'registry-core.config.yaml');
  const maxUpload = `${Math.ceil(SIZE_MIB / LAYERS) + 64}mb`;
  writeFileSync(
    config,
    `dataDir: ./registry-data
limits: { maxUploadSize: ${maxUpload} }
logging: { level: warn }
repositories:
  ${REPOSITORY}: { format: oci, type: hosted, port: 0 }
`,
  );
  const server = await spawnServer(process.execPath, [...SERVER_NODE_ARGS, cli, 'start', '--port', '0', '--config', config], { cwd: dir }, (out) => {
    const main = /registry-core \S+ listening on port (\d+)/.exec(out)?.[1];
    // At logging.level warn the repository's own "listening" line is not logged; the banner names its URL.
    const own = new RegExp(`^\\s+${REPOSITORY}\\s+http://127\\.0\\.0\\.1:(\\d+)/`, 'm').exec(out)?.[1];
    return main && own ? Number(own) : undefined;
  });
  execFileSync(process.execPath, [cli, 'user', 'add', USER, '--password', PASSWORD, '--config', config], { stdio: ['ignore', 'ignore', 'inherit'] });
  const host = `127.0.0.1:${server.value}`;
  return { ...server, dir, host, creds: `${USER}:${PASSWORD}` };
}

/** The distribution registry, filesystem storage, no auth, no access log. */
async function startDistribution() {
  const dir = temp('distribution');
  const port = await freePort();
  const config = path.join(dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1
log:
  level: warn
  accesslog: { disabled: true }
storage:
  filesystem: { rootdirectory: ${dir}/data }
http: { addr: 127.0.0.1:${port} }
`,
  );
  const host = `127.0.0.1:${port}`;
  const server = await spawnServer(DISTRIBUTION, ['serve', config], { cwd: dir }, async () =>
    (await fetch(`http://${host}/v2/`).then((r) => r.ok, () => false)) ? port : undefined,
  );
  return { ...server, dir, host, creds: undefined };
}

const TARGETS = [
  ['registry-core', startRegistryCore],
  ['docker-registry', startDistribution],
];

// ---------------------------------------------------------------- the image

const sha256File = async (file) => {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), hash);
  return hash.digest('hex');
};

/** A digest-computing pass-through. */
function hashing() {
  const hash = createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  return { stream, result: () => ({ hex: hash.digest('hex'), size }) };
}

/**
 * One layer: a tar holding one file of `bytes` random (incompressible) bytes, gzipped at
 * level 0 (stored blocks). skopeo gzips uncompressed layers itself when it pushes to a
 * registry (which would measure its compressor and change the digests); gzip'd layers it
 * copies as they are, both ways.
 */
async function writeLayer(blobs, index, bytes) {
  const CHUNK = 1024 * 1024;
  const tarred = hashing();
  const gzipped = hashing();
  const file = path.join(blobs, `layer-${index}.tmp`);
  const source = Readable.from(
    (function* () {
      yield tarHeader(`random-${index}.bin`, bytes);
      let left = bytes;
      while (left > 0) {
        const n = Math.min(CHUNK, left);
        yield randomFillSync(Buffer.allocUnsafe(n));
        left -= n;
      }
      yield Buffer.alloc((512 - (bytes % 512)) % 512 + 1024);
    })(),
    { objectMode: false },
  );
  await pipeline(source, tarred.stream, createGzip({ level: 0, chunkSize: CHUNK }), gzipped.stream, createWriteStream(file));
  const diff = tarred.result();
  const blob = gzipped.result();
  const final = path.join(blobs, blob.hex);
  renameSync(file, final);
  return { descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${blob.hex}`, size: blob.size }, diffId: `sha256:${diff.hex}` };
}

function writeBlob(blobs, bytes) {
  const hex = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(path.join(blobs, hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
}

/** An OCI image layout with one image (tag `bench`): a config and LAYERS layers of SIZE_MIB MiB in all. */
async function writeLayout(dir) {
  const blobs = path.join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const total = SIZE_MIB * 1024 * 1024;
  const layers = [];
  for (let i = 0; i < LAYERS; i++) {
    const bytes = Math.floor(total / LAYERS) + (i === LAYERS - 1 ? total % LAYERS : 0);
    layers.push(await writeLayer(blobs, i, bytes));
  }
  const configJson = JSON.stringify({
    created: new Date().toISOString(),
    architecture: 'amd64',
    os: 'linux',
    config: { Labels: { 'org.registry-core.bench': 'oci' } },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
  });
  const config = { mediaType: 'application/vnd.oci.image.config.v1+json', ...writeBlob(blobs, Buffer.from(configJson)) };
  const manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: layers.map((l) => l.descriptor) };
  const manifestDescriptor = { mediaType: manifest.mediaType, ...writeBlob(blobs, Buffer.from(JSON.stringify(manifest))) };
  writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...manifestDescriptor, annotations: { 'org.opencontainers.image.ref.name': 'bench' } }] }));
  const bytes = config.size + layers.reduce((sum, l) => sum + l.descriptor.size, 0);
  return { manifest, manifestDigest: manifestDescriptor.digest, bytes };
}

/** The image a pulled layout holds; every blob it names re-hashed against its digest. Throws on any difference. */
async function verifyPulled(dir, pushed, label) {
  const index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8'));
  const ref = index.manifests?.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'bench') ?? index.manifests?.[0];
  if (!ref) throw new Error(`${label}: the pulled layout has no manifest`);
  const blob = (digest) => path.join(dir, 'blobs', ...digest.split(':'));
  const manifest = JSON.parse(readFileSync(blob(ref.digest), 'utf8'));
  const want = [pushed.manifest.config, ...pushed.manifest.layers].map((d) => `${d.digest} ${d.size}`);
  const got = [manifest.config, ...(manifest.layers ?? [])].map((d) => `${d.digest} ${d.size}`);
  if (want.join('\n') !== got.join('\n')) throw new Error(`${label}: pulled config and layers differ from the pushed ones:\npushed:\n${want.join('\n')}\npulled:\n${got.join('\n')}`);
  if (ref.digest !== pushed.manifestDigest) throw new Error(`${label}: pulled manifest ${ref.digest} is not the pushed ${pushed.manifestDigest}`);
  for (const d of [ref, manifest.config, ...manifest.layers]) {
    const hex = await sha256File(blob(d.digest));
    if (`sha256:${hex}` !== d.digest) throw new Error(`${label}: pulled blob ${d.digest} hashes to sha256:${hex}`);
  }
}

// ---------------------------------------------------------------- measuring

const rssMb = (pid) => memory(pid)?.rssMb;

/** Run skopeo with a home and auth file of its own (nothing of the machine's leaks in, no blob-info cache carried over). */
function skopeo(argv) {
  const home = mkdtempSync(path.join(tmpdir(), 'rc-bench-oci-skopeo-'));
  return new Promise((resolve, reject) => {
    const child = spawn(SKOPEO, argv, { env: { PATH: process.env.PATH, HOME: home, REGISTRY_AUTH_FILE: path.join(home, 'auth.json') }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      rmSync(home, { recursive: true, force: true });
      if (code === 0) resolve(output);
      else reject(new Error(`skopeo ${argv.join(' ')} exited with ${code}:\n${output}`));
    });
  });
}

/** Time one skopeo copy while sampling the server's VmRSS every SAMPLE_MS. */
async function measured(pid, argv) {
  const samples = [];
  const sample = () => {
    const mb = rssMb(pid);
    if (mb !== undefined) samples.push(mb);
  };
  const cpuBefore = cpuSeconds(pid);
  sample();
  const timer = setInterval(sample, SAMPLE_MS);
  const started = performance.now();
  try {
    await skopeo(argv);
  } finally {
    clearInterval(timer);
  }
  const seconds = (performance.now() - started) / 1000;
  sample();
  return { seconds, samples, cpu: cpuSeconds(pid) - cpuBefore };
}

async function oneRun(label, start, layout, pushed, run) {
  const server = await start();
  await new Promise((r) => setTimeout(r, 1000));
  const idle = rssMb(server.pid);
  const reference = `docker://${server.host}/${IMAGE}:${TAG}`;
  const push = await measured(server.pid, ['copy', '--dest-tls-verify=false', ...(server.creds ? ['--dest-creds', server.creds] : []), `oci:${layout}:bench`, reference]);
  const out = temp('pulled');
  const pull = await measured(server.pid, ['copy', '--src-tls-verify=false', reference, `oci:${out}:bench`]);
  await verifyPulled(out, pushed, `${label}, run ${run}`);
  rmSync(out, { recursive: true, force: true });
  await server.stop();
  rmSync(server.dir, { recursive: true, force: true });
  const mibps = (p) => pushed.bytes / 1024 ** 2 / p.seconds;
  const mem = (p) => `RSS peak ${fmt(Math.max(...p.samples))} MB, median ${fmt(median(p.samples))} MB, server CPU ${fmt(p.cpu, 1)} s`;
  console.log(`run ${run}, ${label}: idle RSS ${fmt(idle)} MB; push ${fmt(push.seconds, 2)} s (${fmt(mibps(push))} MiB/s; ${mem(push)}); pull ${fmt(pull.seconds, 2)} s (${fmt(mibps(pull))} MiB/s; ${mem(pull)}); pulled digests verified`);
  return { idle, push, pull };
}

// ---------------------------------------------------------------- main

const started = Date.now();
const versionOf = (argv) => {
  try {
    return execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n')[0];
  } catch {
    return '?';
  }
};
const skopeoVersion = versionOf([SKOPEO, '--version']).replace(/^skopeo version /, '');
const distributionVersion = versionOf([DISTRIBUTION, '--version']).replace(/^\S*docker-registry /, '');
const rcVersion = JSON.parse(readFileSync(path.join(root, 'cli', 'package.json'), 'utf8')).version;
console.log(
  `registry-core OCI bench, ${new Date().toISOString()}, Node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}); registry-core ${rcVersion} (SQLite + fs), docker-registry ${distributionVersion}, skopeo ${skopeoVersion}`,
);

try {
  const layout = temp('layout');
  const generating = performance.now();
  const pushed = await writeLayout(layout);
  console.log(
    `image: ${LAYERS} gzip (level 0) layers of ${fmt(SIZE_MIB / LAYERS, 1)} MiB random bytes + config, ${fmt(pushed.bytes)} bytes (${fmt(pushed.bytes / 1024 ** 2, 1)} MiB); generated in ${fmt((performance.now() - generating) / 1000, 1)} s; ${RUNS} runs, fresh servers and data folders each run`,
  );

  const results = Object.fromEntries(TARGETS.map(([label]) => [label, []]));
  for (let run = 1; run <= RUNS; run++) {
    // Alternate which server goes first, so neither always gets the warmer page cache.
    const order = run % 2 === 1 ? TARGETS : [...TARGETS].reverse();
    for (const [label, start] of order) results[label].push(await oneRun(label, start, layout, pushed, run));
  }

  const summary = {};
  for (const [label] of TARGETS) {
    const runs = results[label];
    const phase = (name) => {
      const samples = runs.flatMap((r) => r[name].samples);
      return {
        seconds: median(runs.map((r) => r[name].seconds)),
        peak: Math.max(...samples),
        median: median(samples),
        cpu: median(runs.map((r) => r[name].cpu)),
      };
    };
    summary[label] = { idle: median(runs.map((r) => r.idle)), push: phase('push'), pull: phase('pull') };
  }
  const rc = summary['registry-core'];
  const dr = summary['docker-registry'];
  const mib = pushed.bytes / 1024 ** 2;
  const timeCell = (p) => `${fmt(p.seconds, 2)} s (${fmt(mib / p.seconds)} MiB/s)`;
  const memCell = (p) => `peak ${fmt(p.peak)} MB, median ${fmt(p.median)} MB`;
  const ratio = (a, b, what) => `${fmt(a / b, 2)}x${what ? ` ${what}` : ''}`;
  const rows = [
    [`push ${fmt(mib)} MiB, median of ${RUNS}`, timeCell(rc.push), timeCell(dr.push), ratio(rc.push.seconds, dr.push.seconds, 'the time')],
    [`pull ${fmt(mib)} MiB, median of ${RUNS}`, timeCell(rc.pull), timeCell(dr.pull), ratio(rc.pull.seconds, dr.pull.seconds, 'the time')],
    ['server RSS idle, before the push (median)', `${fmt(rc.idle)} MB`, `${fmt(dr.idle)} MB`, ratio(rc.idle, dr.idle, '')],
    ['server RSS during push', memCell(rc.push), memCell(dr.push), ratio(rc.push.peak, dr.push.peak, 'peak')],
    ['server RSS during pull', memCell(rc.pull), memCell(dr.pull), ratio(rc.pull.peak, dr.pull.peak, 'peak')],
    ['server CPU during push (median)', `${fmt(rc.push.cpu, 1)} s`, `${fmt(dr.push.cpu, 1)} s`, ratio(rc.push.cpu, dr.push.cpu, '')],
    ['server CPU during pull (median)', `${fmt(rc.pull.cpu, 1)} s`, `${fmt(dr.pull.cpu, 1)} s`, ratio(rc.pull.cpu, dr.pull.cpu, '')],
  ];
  console.log(`\n| phase | registry-core | docker-registry | registry-core / docker-registry |\n| --- | --- | --- | --- |`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log(`\nRSS: VmRSS of the server process sampled every ${SAMPLE_MS} ms during each skopeo copy, all ${RUNS} runs pooled (MB = MiB); times are wall-clock seconds of the skopeo copy.`);
  console.log(`(${fmt((Date.now() - started) / 1000)} s)`);
} catch (error) {
  console.error(error instanceof Error ? error.stack : error);
  process.exitCode = 1;
} finally {
  await cleanup();
}
