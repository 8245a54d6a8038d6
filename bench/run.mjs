#!/usr/bin/env node
// registry-core side by side with Verdaccio 6 and nginx, on this machine, in one run.
// Prints a table of figures, ratios and targets. Not part of the test command.
//
//   pnpm --dir bench install --ignore-workspace     # Verdaccio, once
//   apt-get install -y nginx-light wrk              # once
//   pnpm bench [-- --only tarball,packument,memory,cold,install,publish,stream,formats,analytics,workers,drivers] [--duration 8] [--markdown results.md]
//
// The report is one table per format, headed by the date, the commit and the load average;
// --markdown also writes it to a file (bench/README.md's results are such a file).
//
// `drivers` (not in the default set; needs neither Verdaccio nor nginx) streams a 1 GiB
// file through one node per storage driver, each on its emulator: --driver-bytes N.
//
// The npm upstream is the registry the local npm client is configured with.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { storedZip } from '../core/testing/dist/archives.js';
import { cleanup, cleanups, cpuSeconds, fail, flag, fmt, freePort, memory, resetPeak, spawnServer, tar, temp } from './lib.mjs';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(benchDir, '..');
const cli = path.join(root, 'cli', 'bin', 'registry-core.js');
const rawPlugin = path.join(root, 'examples', 'raw-format-plugin');
const verdaccioBin = path.join(benchDir, 'node_modules', 'verdaccio', 'bin', 'verdaccio');

const ALL = ['tarball', 'packument', 'memory', 'memory-tuned', 'cold', 'install', 'pnpm-install', 'publish', 'stream', 'formats', 'analytics', 'workers'];
const OPTIONAL = ['drivers'];
const only = new Set((flag('only', ALL.join(',')) ?? '').split(',').filter(Boolean));
const duration = Number(flag('duration', '8'));
const connections = Number(flag('connections', '32'));
const TARBALL = { name: 'semver', file: 'semver-7.6.3.tgz' };
const PACKUMENT = 'commander';
const COLD = { name: 'ms', file: 'ms-2.1.3.tgz' };
const STREAM_BYTES = Number(flag('stream-bytes', String(2 * 1024 ** 3)));
const DRIVER_BYTES = Number(flag('driver-bytes', String(1024 ** 3)));
for (const name of only) if (!ALL.includes(name) && !OPTIONAL.includes(name)) fail(`unknown scenario ${name}: ${[...ALL, ...OPTIONAL].join(', ')}`);
const needsPeers = [...only].some((name) => !['drivers', 'analytics', 'workers'].includes(name));

const upstream = execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().replace(/\/?$/, '/');
for (const [what, bin] of needsPeers ? [['nginx', '/usr/sbin/nginx'], ['wrk', '/usr/bin/wrk']] : only.has('analytics') || only.has('workers') ? [['wrk', '/usr/bin/wrk']] : []) {
  if (!existsSync(bin)) fail(`${what} is missing: apt-get install -y nginx-light wrk`);
}
const needsVerdaccio = [...only].some((name) => !['drivers', 'formats', 'analytics', 'stream', 'cold', 'memory-tuned', 'workers'].includes(name));
if (needsVerdaccio && !existsSync(verdaccioBin)) fail('Verdaccio is missing: pnpm --dir bench install --ignore-workspace');
if (!existsSync(cli)) fail('registry-core is not built: pnpm install (at the repository root)');

// ---------------------------------------------------------------- processes and cleanup

async function startRegistryCore(config, nodeOptions = '', extraEnv = {}) {
  const dir = temp('registry');
  const args = ['start', '--port', '0'];
  if (config) {
    // As the figures in README.md were measured: no access-log line per request (the peers'
    // are off too); `logging.access` is on by default since.
    writeFileSync(path.join(dir, 'registry-core.config.yaml'), /^logging:/m.test(config) ? config : `logging: { access: false }\n${config}`);
    args.push('--config', path.join(dir, 'registry-core.config.yaml'));
  }
  // The zero-config default too (no file): through the environment.
  const env = { ...process.env, REGISTRY_CORE_LOGGING__ACCESS: 'false', ...extraEnv, ...(nodeOptions ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} ${nodeOptions}` } : {}) };
  const server = await spawnServer(process.execPath, [cli, ...args], { cwd: dir, env }, (out) => /listening on port (\d+)/.exec(out)?.[1]);
  return { ...server, dir, url: `http://127.0.0.1:${server.value}`, pid: server.child.pid };
}

async function startVerdaccio(uplink) {
  const dir = temp('verdaccio');
  const port = await freePort();
  writeFileSync(
    path.join(dir, 'config.yaml'),
    `storage: ${dir}/storage
auth:
  htpasswd:
    file: ${dir}/htpasswd
    max_users: 10000
uplinks:
  upstream:
    url: ${uplink}
packages:
  '@*/*':
    access: $all
    publish: $authenticated
    proxy: upstream
  '**':
    access: $all
    publish: $authenticated
    proxy: upstream
server:
  keepAliveTimeout: 60
log: { type: stdout, format: pretty, level: error }
max_body_size: 100mb
`,
  );
  const child = spawn(process.execPath, [verdaccioBin, '--config', path.join(dir, 'config.yaml'), '--listen', `127.0.0.1:${port}`], { cwd: dir, stdio: 'ignore' });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  cleanups.push(stop);
  // Verdaccio prints nothing at level error: wait for its port.
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (await get(`${url}/-/ping`).then(() => true, () => false)) break;
    if (child.exitCode !== null || i > 600) throw new Error('Verdaccio did not start');
    await sleep(100);
  }
  const pid = child.pid;
  return { url, pid, dir, stop };
}

async function startNginx(files) {
  const dir = temp('nginx');
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi', 'www']) mkdirSync(path.join(dir, sub));
  for (const [name, bytes] of Object.entries(files)) writeFileSync(path.join(dir, 'www', name), bytes);
  const port = await freePort();
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    `${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${dir}/www;
  }
}
`,
  );
  const child = spawn('/usr/sbin/nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: 'ignore' });
  cleanups.push(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGQUIT');
      await exited;
    }
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; !(await get(`${url}/`).then(() => true, () => false)); i++) {
    if (i > 100) throw new Error('nginx did not start');
    await sleep(50);
  }
  return { url };
}

// ---------------------------------------------------------------- measuring

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function get(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, { headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * wrk against `url` (`threads` wrk threads, `connections` each); with `pid`, also the server's
 * CPU time per request (µs: comparable on a noisy machine).
 */
function wrk(url, headers = {}, pid = undefined, threads = 1, seconds = duration) {
  const cpuBefore = pid === undefined ? 0 : cpuSeconds(pid);
  const argv = [`-t${threads}`, `-c${connections * threads}`, `-d${seconds}s`, '--latency'];
  for (const [k, v] of Object.entries(headers)) argv.push('-H', `${k}: ${v}`);
  const out = execFileSync('wrk', [...argv, url], { encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
  const requests = Number(/(\d+) requests in/.exec(out)[1]);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99ms = p99 ? Number(p99[1]) * { us: 0.001, ms: 1, s: 1000 }[p99[2]] : NaN;
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  if (non2xx > 0) throw new Error(`wrk got ${non2xx} error answers from ${url}`);
  const cpuUs = pid === undefined ? undefined : ((cpuSeconds(pid) - cpuBefore) * 1e6) / requests;
  return { rps, p99ms, requests, cpuUs };
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * Targets (`label: [url, headers, pid]`) measured in turns after a short warm load on each (a
 * server's JIT, nginx's page cache): in the order given, then backwards (a b c, c b a), so that
 * drift of the machine (these 2-core machines move by half between minutes) falls on all. Each
 * target's mean req/s and server CPU per request, its worst p99, and each run's req/s.
 */
function inTurns(targets) {
  const labels = Object.keys(targets);
  for (const [url, headers] of Object.values(targets)) wrk(url, headers, undefined, 1, 2);
  const runs = Object.fromEntries(labels.map((label) => [label, []]));
  for (const label of [...labels, ...[...labels].reverse()]) runs[label].push(wrk(...targets[label]));
  return Object.fromEntries(
    labels.map((label) => {
      const r = runs[label];
      return [label, { rps: mean(r.map((x) => x.rps)), p99ms: Math.max(...r.map((x) => x.p99ms)), cpuUs: r[0].cpuUs === undefined ? undefined : mean(r.map((x) => x.cpuUs)), each: r.map((x) => x.rps) }];
    }),
  );
}

/** A result of {@link wrk} or {@link inTurns} as a row's figure. */
const rate = (r) => `${fmt(r.rps)} req/s${r.each ? ` (${r.each.map((x) => fmt(x)).join(', ')})` : ''}, p99 ${fmt(r.p99ms, 1)} ms${r.cpuUs === undefined ? '' : `, server CPU ${fmt(r.cpuUs)} µs/request`}`;

const rows = [];
function row(scenario, figure, target = '', pass = undefined) {
  rows.push({ scenario, figure, target, result: pass === undefined ? '' : pass ? 'PASS' : 'MISS' });
  console.log(`${scenario}: ${figure}${target ? `  [target ${target}: ${pass ? 'PASS' : 'MISS'}]` : ''}`);
}

// ---------------------------------------------------------------- scenarios

/** Cached tarball and packument: registry-core (proxy and group), Verdaccio, nginx. */
async function readLoad() {
  const rc = await startRegistryCore();
  const vd = await startVerdaccio(upstream);
  const tarballPath = `${TARBALL.name}/-/${TARBALL.file}`;
  const upstreamTarball = await get(`${upstream}${tarballPath}`);
  const rcPackument = await get(`${rc.url}/npm-proxy/${PACKUMENT}`, { accept: 'application/json' });
  const rcAbbreviated = await get(`${rc.url}/npm-proxy/${PACKUMENT}`, { accept: 'application/vnd.npm.install-v1+json' });
  const nginx = await startNginx({ 'tarball.tgz': upstreamTarball.body, 'packument.json': rcPackument.body, 'abbreviated.json': rcAbbreviated.body });
  // Warm every path twice (a cached answer is what is measured).
  for (let i = 0; i < 2; i++) {
    for (const url of [`${rc.url}/npm-proxy/${tarballPath}`, `${rc.url}/npm/${tarballPath}`, `${vd.url}/${tarballPath}`, `${vd.url}/${PACKUMENT}`, `${rc.url}/npm/${PACKUMENT}`]) {
      const answer = await get(url);
      if (answer.status !== 200) throw new Error(`${url} answered ${answer.status}`);
    }
  }
  const versions = Object.keys(JSON.parse(rcPackument.body).versions).length;
  console.log(`tarball ${tarballPath}: ${fmt(upstreamTarball.body.length)} bytes; packument ${PACKUMENT}: ${fmt(rcPackument.body.length)} bytes full, ${fmt(rcAbbreviated.body.length)} abbreviated, ${versions} versions`);
  const results = {};
  if (only.has('tarball')) {
    const turns = inTurns({ proxy: [`${rc.url}/npm-proxy/${tarballPath}`, {}, rc.pid], group: [`${rc.url}/npm/${tarballPath}`, {}, rc.pid], nginx: [`${nginx.url}/tarball.tgz`, {}] });
    results.tarball = { proxy: turns.proxy, group: turns.group, verdaccio: wrk(`${vd.url}/${tarballPath}`), nginx: turns.nginx };
    const t = results.tarball;
    for (const [label, r] of Object.entries(t)) row(`cached tarball, ${label}`, rate(r));
    row('cached tarball, proxy / Verdaccio', `${fmt(t.proxy.rps / t.verdaccio.rps, 1)}x`, '>= 5x', t.proxy.rps / t.verdaccio.rps >= 5);
    row('cached tarball, group / Verdaccio', `${fmt(t.group.rps / t.verdaccio.rps, 1)}x`, '>= 5x', t.group.rps / t.verdaccio.rps >= 5);
    // What the direct front buys: the same group read with every request through Node's HTTP server.
    const throughNode = await startRegistryCore(undefined, '', { REGISTRY_CORE_SERVER__DIRECT_REPLIES: 'false' });
    for (let i = 0; i < 2; i++) await get(`${throughNode.url}/npm/${tarballPath}`);
    const off = wrk(`${throughNode.url}/npm/${tarballPath}`, {}, throughNode.pid);
    await throughNode.stop();
    row('cached tarball, group, server.directReplies: false', `${fmt(off.rps)} req/s, p99 ${fmt(off.p99ms, 1)} ms, server CPU ${fmt(off.cpuUs)} µs/request`);
    row('cached tarball, group, direct replies on / off', `${fmt(t.group.rps / off.rps, 2)}x req/s, ${fmt(t.group.cpuUs / off.cpuUs, 2)}x server CPU per request`);
    row('cached tarball, proxy / nginx', `${fmt(t.proxy.rps / t.nginx.rps, 2)}x`, '>= 0.8x', t.proxy.rps / t.nginx.rps >= 0.8);
    row('cached tarball, group / nginx', `${fmt(t.group.rps / t.nginx.rps, 2)}x`, '>= 0.8x', t.group.rps / t.nginx.rps >= 0.8);
  }
  if (only.has('packument')) {
    const full = { accept: 'application/json' };
    const abbreviated = { accept: 'application/vnd.npm.install-v1+json' };
    // registry-core and nginx in turns (see inTurns), Verdaccio once.
    const p = {};
    for (const [form, accept, file] of [['Full', full, 'packument.json'], ['Abbreviated', abbreviated, 'abbreviated.json']]) {
      const turns = inTurns({ proxy: [`${rc.url}/npm-proxy/${PACKUMENT}`, accept, rc.pid], group: [`${rc.url}/npm/${PACKUMENT}`, accept, rc.pid], nginx: [`${nginx.url}/${file}`, {}] });
      Object.assign(p, { [`proxy${form}`]: turns.proxy, [`group${form}`]: turns.group, [`verdaccio${form}`]: wrk(`${vd.url}/${PACKUMENT}`, accept), [`nginx${form}`]: turns.nginx });
    }
    for (const [label, r] of Object.entries(p)) row(`cached packument, ${label}`, rate(r));
    for (const form of ['Full', 'Abbreviated']) {
      for (const repo of ['proxy', 'group']) {
        const ratio = p[`${repo}${form}`].rps / p[`verdaccio${form}`].rps;
        row(`cached packument ${form.toLowerCase()}, ${repo} / Verdaccio`, `${fmt(ratio, 1)}x`, '>= 10x', ratio >= 10);
      }
      for (const repo of ['proxy', 'group']) {
        const ratio = p[`${repo}${form}`].rps / p[`nginx${form}`].rps;
        row(`cached packument ${form.toLowerCase()}, ${repo} / nginx`, `${fmt(ratio, 2)}x`, '>= 0.8x', ratio >= 0.8);
      }
    }
  }
  if (only.has('memory')) {
    const m = memory(rc.pid);
    const v = memory(vd.pid);
    row('server memory under that load, registry-core', `peak ${fmt(m.peakMb)} MB, now ${fmt(m.rssMb)} MB`, '< 150 MB', m.peakMb < 150);
    row('server memory under that load, Verdaccio', `peak ${fmt(v.peakMb)} MB, now ${fmt(v.rssMb)} MB`);
  }
  await rc.stop();
}

/**
 * The same read load on a registry-core started with a smaller V8 young generation
 * (`NODE_OPTIONS=--max-semi-space-size=4`, the setting docs/configuration.md suggests for
 * small machines): its peak memory and throughput.
 */
async function tunedMemory() {
  const rc = await startRegistryCore(undefined, '--max-semi-space-size=4');
  const tarball = `${rc.url}/npm/${TARBALL.name}/-/${TARBALL.file}`;
  for (let i = 0; i < 2; i++) for (const url of [tarball, `${rc.url}/npm/${PACKUMENT}`]) await get(url);
  const t = wrk(tarball);
  const p = wrk(`${rc.url}/npm/${PACKUMENT}`, { accept: 'application/json' });
  const m = memory(rc.pid);
  row(
    'server memory under that load, registry-core with --max-semi-space-size=4',
    `peak ${fmt(m.peakMb)} MB (tarball ${fmt(t.rps)} req/s, packument ${fmt(p.rps)} req/s through the group)`,
    '< 200 MB',
    m.peakMb < 200,
  );
  await rc.stop();
}

/**
 * The cached tarball through a group with download counting on and off (`analytics.enabled`):
 * two servers of the same config measured in many short pairs (off on, on off, ...), each
 * pair's ratio taken at once so that the machine's drift between minutes (these 2-core
 * machines move by half) falls on both sides of it; the median of the pairs' ratios.
 * `BENCH_AA=1` starts both with counting off: the spread of two equal servers.
 */
async function analyticsCost() {
  const config = (enabled) => `analytics: { enabled: ${enabled} }
repositories:
  npm-proxy: { format: npm, type: proxy, upstream: "${upstream}" }
  npm: { format: npm, type: group, members: [npm-proxy] }
`;
  const tarballPath = `npm/${TARBALL.name}/-/${TARBALL.file}`;
  const servers = { off: await startRegistryCore(config(false)), on: await startRegistryCore(config(process.env.BENCH_AA ? false : true)) };
  for (const server of Object.values(servers)) {
    for (let i = 0; i < 2; i++) if ((await get(`${server.url}/${tarballPath}`)).status !== 200) throw new Error(`${server.url}/${tarballPath} failed`);
    wrk(`${server.url}/${tarballPath}`, {}, undefined, 1, 2);
  }
  const pairs = Number(flag('pairs', '10'));
  const seconds = Math.max(2, Math.round(duration / 3));
  const runs = { off: [], on: [] };
  // Beside the req/s, the server's own CPU time per request (utime + stime over the run).
  for (let i = 0; i < pairs; i++) for (const label of i % 2 ? ['on', 'off'] : ['off', 'on']) runs[label].push(wrk(`${servers[label].url}/${tarballPath}`, {}, servers[label].pid, 1, seconds));
  const median = (xs) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  };
  const ratios = (field) => runs.on.map((on, i) => on[field] / runs.off[i][field]);
  for (const label of ['off', 'on']) {
    const r = runs[label];
    row(`cached tarball, group, download counting ${label}${process.env.BENCH_AA ? ' (A/A: off too)' : ''}`, `${fmt(mean(r.map((x) => x.rps)))} req/s, ${fmt(mean(r.map((x) => x.cpuUs)), 1)} µs server CPU per request (mean of ${pairs} runs of ${seconds} s)`);
  }
  const rps = ratios('rps');
  const cpu = ratios('cpuUs');
  row('cached tarball with / without download counting', `${fmt(median(rps), 3)}x (median of ${pairs} pairs; ${rps.map((x) => fmt(x, 2)).join(', ')})`, '>= 0.95x', median(rps) >= 0.95);
  row('server CPU per cached tarball, with / without download counting', `${fmt(median(cpu), 3)}x (${cpu.map((x) => fmt(x, 2)).join(', ')})`, '<= 1.05x', median(cpu) <= 1.05);
  for (const server of Object.values(servers)) await server.stop();
}

/**
 * The cached tarball through a group with `server.workers: 2` against 1, measured in turns
 * (one, two, two, one, one, two). wrk runs 2 threads with twice the connections here: one
 * wrk thread is a bottleneck of its own against two server processes. On a 2-core machine
 * wrk takes part of the cores the workers would use, so the ratio is a floor.
 */
async function workerScaling() {
  const config = (workers) => `server: { workers: ${workers} }
repositories:
  npm-proxy: { format: npm, type: proxy, upstream: "${upstream}" }
  npm: { format: npm, type: group, members: [npm-proxy] }
`;
  const tarballPath = `npm/${TARBALL.name}/-/${TARBALL.file}`;
  const servers = { one: await startRegistryCore(config(1)), two: await startRegistryCore(config(2)) };
  // Warm every worker (the primary deals new connections out in turn).
  for (const server of Object.values(servers)) {
    for (let i = 0; i < 6; i++) if ((await get(`${server.url}/${tarballPath}`, { connection: 'close' })).status !== 200) throw new Error(`${server.url}/${tarballPath} failed`);
  }
  const runs = { one: [], two: [] };
  for (let i = 0; i < 3; i++) for (const label of i % 2 ? ['two', 'one'] : ['one', 'two']) runs[label].push(wrk(`${servers[label].url}/${tarballPath}`, {}, undefined, 2).rps);
  for (const label of ['one', 'two']) row(`cached tarball, group, ${label === 'one' ? '1 worker' : '2 workers'} (wrk -t2 -c${connections * 2})`, `${fmt(mean(runs[label]))} req/s (${runs[label].map((r) => fmt(r)).join(', ')})`);
  row('cached tarball, 2 workers / 1 worker', `${fmt(mean(runs.two) / mean(runs.one), 2)}x`);
  for (const server of Object.values(servers)) await server.stop();
}

/** A reverse proxy to the npm upstream that counts requests per path. */
async function countingUpstream() {
  const target = new URL(upstream);
  const counts = new Map();
  const server = createServer((req, res) => {
    const p = req.url.replace(/^\/+/, '/');
    counts.set(p, (counts.get(p) ?? 0) + 1);
    const url = new URL(target.pathname.replace(/\/$/, '') + p, target);
    const forward = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method: req.method, headers: { accept: req.headers.accept ?? '*/*', 'accept-encoding': 'identity', 'user-agent': 'rc-bench' } }, (answer) => {
      const headers = { ...answer.headers };
      delete headers['transfer-encoding'];
      delete headers.connection;
      res.writeHead(answer.statusCode, headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  return { url: `http://127.0.0.1:${server.address().port}/`, counts };
}

async function coldBurst() {
  for (const [label, start] of [
    ['registry-core', async (up) => startRegistryCore(`repositories:\n  npm-proxy: { format: npm, type: proxy, upstream: "${up}" }\n`)],
    ['Verdaccio', async (up) => startVerdaccio(up)],
  ]) {
    const counter = await countingUpstream();
    const server = await start(counter.url);
    const base = label === 'registry-core' ? `${server.url}/npm-proxy` : server.url;
    const answers = await Promise.all(Array.from({ length: 200 }, () => get(`${base}/${COLD.name}/-/${COLD.file}`)));
    const ok = answers.filter((a) => a.status === 200).length;
    const digests = new Set(answers.map((a) => createHash('sha256').update(a.body).digest('hex')));
    const tarballRequests = counter.counts.get(`/${COLD.name}/-/${COLD.file}`) ?? 0;
    const packumentRequests = counter.counts.get(`/${COLD.name}`) ?? 0;
    row(
      `200 concurrent cold requests for one tarball, ${label}`,
      `${ok} answered 200 (${digests.size} distinct bodies); upstream asked ${tarballRequests}x for the tarball${tarballRequests === 0 ? ' (it followed the packument\'s absolute tarball URL, past the counter)' : ''}, ${packumentRequests}x for its packument`,
      label === 'registry-core' ? 'exactly 1 upstream request' : '',
      label === 'registry-core' ? tarballRequests === 1 && ok === 200 : undefined,
    );
    await server.stop?.();
  }
}

function npmInstall(registry, label) {
  const dir = temp('project');
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'bench', version: '1.0.0', private: true, dependencies: { express: '^4.21.0', webpack: '^5.90.0', eslint: '^8.57.0', jest: '^29.7.0' } }));
  const cache = temp('npm-cache');
  const started = performance.now();
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', `--registry=${registry}`, `--cache=${cache}`, '--prefer-online', '--replace-registry-host=never'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, npm_config_userconfig: path.join(dir, '.npmrc-none'), npm_config_update_notifier: 'false' },
  });
  const seconds = (performance.now() - started) / 1000;
  const packages = Object.keys(JSON.parse(readFileSync(path.join(dir, 'package-lock.json'), 'utf8')).packages).length - 1;
  rmSync(dir, { recursive: true, force: true });
  rmSync(cache, { recursive: true, force: true });
  return { seconds, packages };
}

/** The same project installed by pnpm, with an empty store and metadata cache. */
function pnpmInstall(registry) {
  const dir = temp('pnpm-project');
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'bench', version: '1.0.0', private: true, dependencies: { express: '^4.21.0', webpack: '^5.90.0', eslint: '^8.57.0', jest: '^29.7.0' } }));
  const store = temp('pnpm-store');
  const cache = temp('pnpm-cache');
  const started = performance.now();
  execFileSync('pnpm', ['install', '--ignore-scripts', `--registry=${registry}`, `--store-dir=${store}`, `--cache-dir=${cache}`, '--reporter=silent'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, npm_config_userconfig: path.join(dir, '.npmrc-none'), COREPACK_ENABLE_STRICT: '0' },
  });
  const seconds = (performance.now() - started) / 1000;
  // Each package of the lockfile has one resolution line.
  const packages = (readFileSync(path.join(dir, 'pnpm-lock.yaml'), 'utf8').match(/resolution: \{integrity/g) ?? []).length;
  for (const folder of [dir, store, cache]) rmSync(folder, { recursive: true, force: true });
  return { seconds, packages };
}

/**
 * The direct install's time: the mean of `runs`, one before and one right after registry-core's
 * cold install (whose time rests on the same network: its drift between minutes falls on both
 * sides); the row says both.
 */
function directInstalls(label, runs) {
  const seconds = mean(runs.map((r) => r.seconds));
  row(`${label}, straight from the upstream`, `${fmt(seconds, 1)} s (mean of ${runs.map((r) => `${fmt(r.seconds, 1)} s`).join(' before and ')} after registry-core's cold install), ${runs[0].packages} packages`);
  return { seconds };
}

/**
 * pnpm reads only abbreviated documents (npm 11 reads full ones first): what an npm proxy
 * that fetches the upstream's abbreviated documents saves on a cold install.
 */
async function pnpmInstalls() {
  const before = pnpmInstall(upstream);
  let direct;
  const rc = await startRegistryCore();
  const vd = await startVerdaccio(upstream);
  for (const [label, url, pid] of [
    ['registry-core group', `${rc.url}/npm/`, rc.pid],
    ['Verdaccio', `${vd.url}/`, vd.pid],
  ]) {
    const cold = pnpmInstall(url);
    const afterCold = memory(pid);
    direct ??= directInstalls('pnpm install (the same project)', [before, pnpmInstall(upstream)]);
    const reset = resetPeak(pid);
    const warm = pnpmInstall(url);
    const afterWarm = memory(pid);
    row(`pnpm install through ${label}, cold`, `${fmt(cold.seconds, 1)} s (${fmt(cold.seconds / direct.seconds, 2)}x direct); server peak ${fmt(afterCold.peakMb)} MB, ${fmt(afterCold.rssMb)} MB after it`);
    row(`pnpm install through ${label}, warm`, `${fmt(warm.seconds, 1)} s (${fmt(warm.seconds / direct.seconds, 2)}x direct); server peak${reset ? ' during it' : ''} ${fmt(afterWarm.peakMb)} MB`);
  }
  await rc.stop();
  await vd.stop?.();
}

async function installs() {
  const before = npmInstall(upstream);
  let direct;
  const rc = await startRegistryCore();
  const vd = await startVerdaccio(upstream);
  for (const [label, url, pid] of [
    ['registry-core group', `${rc.url}/npm/`, rc.pid],
    ['Verdaccio', `${vd.url}/`, vd.pid],
  ]) {
    const cold = npmInstall(url);
    const afterCold = memory(pid);
    direct ??= directInstalls('npm install (a few hundred packages)', [before, npmInstall(upstream)]);
    // The warm install's own peak: VmHWM reset to the RSS the cold one left (which it starts from).
    const reset = resetPeak(pid);
    const warm = npmInstall(url);
    const afterWarm = memory(pid);
    // The same warm install after ten idle seconds, as between two builds: what the server
    // gives back when quiet (registry-core: server.releaseMemoryWhenIdle) is what it starts from.
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const idle = memory(pid);
    const resetIdle = resetPeak(pid);
    const warmAfterIdle = npmInstall(url);
    const afterIdleWarm = memory(pid);
    const ours = label.startsWith('registry-core');
    row(`npm install through ${label}, cold`, `${fmt(cold.seconds, 1)} s (${fmt(cold.seconds / direct.seconds, 2)}x direct); server peak ${fmt(afterCold.peakMb)} MB, ${fmt(afterCold.rssMb)} MB after it`, ours ? '<= 1.2x direct' : undefined, ours ? cold.seconds / direct.seconds <= 1.2 : undefined);
    row(`npm install through ${label}, warm`, `${fmt(warm.seconds, 1)} s (${fmt(warm.seconds / direct.seconds, 2)}x direct)`, ours ? '<= 1.0x direct' : undefined, ours ? warm.seconds / direct.seconds <= 1.0 : undefined);
    row(`npm install through ${label}, warm, server memory peak${reset ? ' during it' : ' (cold and warm)'}`, `${fmt(afterWarm.peakMb)} MB`, ours ? '< 200 MB' : undefined, ours ? afterWarm.peakMb < 200 : undefined);
    row(
      `npm install through ${label}, warm again after 10 s idle`,
      `${fmt(warmAfterIdle.seconds, 1)} s; server ${fmt(idle.rssMb)} MB before it, peak${resetIdle ? ' during it' : ''} ${fmt(afterIdleWarm.peakMb)} MB`,
    );
  }
  await rc.stop();
}

/** A gzipped tarball holding package/package.json, built by hand (ustar). */
function packageTarball(manifest) {
  return gzipSync(tar({ 'package/package.json': JSON.stringify(manifest, null, 2) }, Math.floor(Date.now() / 1000)));
}

function publishBody(manifest, tarball, base) {
  const file = `${manifest.name}-${manifest.version}.tgz`;
  const version = {
    ...manifest,
    _id: `${manifest.name}@${manifest.version}`,
    dist: {
      shasum: createHash('sha1').update(tarball).digest('hex'),
      integrity: `sha512-${createHash('sha512').update(tarball).digest('base64')}`,
      tarball: `${base}/${manifest.name}/-/${file}`,
    },
  };
  return JSON.stringify({
    _id: manifest.name,
    name: manifest.name,
    'dist-tags': { latest: manifest.version },
    versions: { [manifest.version]: version },
    _attachments: { [file]: { content_type: 'application/octet-stream', data: tarball.toString('base64'), length: tarball.length } },
  });
}

function send(method, url, headers, body) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function publishes() {
  const rc = await startRegistryCore(`auth: { allowRegistration: true }\nrepositories:\n  npm-local: { format: npm, type: hosted }\n`);
  const vd = await startVerdaccio(upstream);
  const times = {};
  for (const [label, base] of [
    ['registry-core', `${rc.url}/npm-local`],
    ['Verdaccio', vd.url],
  ]) {
    const user = await send('PUT', `${base}/-/user/org.couchdb.user:bench`, {}, JSON.stringify({ name: 'bench', password: 'bench-password-1', type: 'user', email: 'bench@example.org' }));
    const token = JSON.parse(user.body).token;
    if (!token) throw new Error(`${label}: no token from adduser: ${user.status} ${user.body}`);
    const bodies = Array.from({ length: 200 }, (_, i) => {
      const manifest = { name: `bench-release-${i}`, version: '1.0.0', description: `package ${i} of a monorepo release`, main: 'index.js' };
      return [manifest.name, publishBody(manifest, packageTarball(manifest), base)];
    });
    const started = performance.now();
    for (const [name, body] of bodies) {
      const answer = await send('PUT', `${base}/${name}`, { authorization: `Bearer ${token}` }, body);
      if (answer.status !== 200 && answer.status !== 201) throw new Error(`${label}: publish of ${name} answered ${answer.status}: ${answer.body}`);
    }
    times[label] = (performance.now() - started) / 1000;
    row(`200 publishes one after another, ${label}`, `${fmt(times[label], 2)} s`);
  }
  const ratio = times['registry-core'] / times.Verdaccio;
  row('200 publishes, registry-core / Verdaccio time', `${fmt(ratio, 2)}x`, '<= 0.2x', ratio <= 0.2);
  await rc.stop();
}

// ---------------------------------------------------------------- reads of every format

/** A request with a body; resolves { status, headers, body }. */
function call(method, url, headers, body) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: { ...(body !== undefined ? { 'content-length': Buffer.byteLength(body) } : {}), ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Push one blob and an image manifest naming it to an OCI registry (`root` ends in /v2/), with the Bearer flow when challenged. */
async function ociPush(root, image, blob, basic) {
  let auth = {};
  const authed = async (method, url, headers, body) => {
    let answer = await call(method, url, { ...headers, ...auth }, body);
    const challenge = answer.headers['www-authenticate'];
    if (answer.status === 401 && challenge?.startsWith('Bearer ') && basic) {
      const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
      const tokenUrl = `${params.realm}?service=${encodeURIComponent(params.service ?? '')}&scope=${encodeURIComponent(`repository:${image}:pull,push`)}`;
      const token = JSON.parse((await call('GET', tokenUrl, { authorization: `Basic ${Buffer.from(basic).toString('base64')}` })).body).token;
      auth = { authorization: `Bearer ${token}` };
      answer = await call(method, url, { ...headers, ...auth }, body);
    }
    return answer;
  };
  const upload = async (bytes) => {
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const started = await authed('POST', `${root}${image}/blobs/uploads/`, {});
    if (started.status !== 202) throw new Error(`blob upload to ${root} answered ${started.status}: ${started.body}`);
    const location = new URL(started.headers.location, root);
    location.searchParams.set('digest', digest);
    const put = await authed('PUT', location.href, { 'content-type': 'application/octet-stream' }, bytes);
    if (put.status !== 201) throw new Error(`blob PUT to ${root} answered ${put.status}: ${put.body}`);
    return digest;
  };
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const layer = await upload(blob);
  const configDigest = await upload(config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer, size: blob.length }],
  });
  const put = await authed('PUT', `${root}${image}/manifests/1`, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, manifest);
  if (put.status !== 201) throw new Error(`manifest PUT to ${root} answered ${put.status}: ${put.body}`);
  return layer;
}

/** The distribution registry (Debian's docker-registry), filesystem storage, no auth, no access log. */
async function startDistribution() {
  const dir = temp('distribution');
  const port = await freePort();
  const config = path.join(dir, 'config.yml');
  writeFileSync(config, `version: 0.1\nlog:\n  level: warn\n  accesslog: { disabled: true }\nstorage:\n  filesystem: { rootdirectory: ${dir}/data }\nhttp: { addr: 127.0.0.1:${port} }\n`);
  const url = `http://127.0.0.1:${port}`;
  await spawnServer('/usr/bin/docker-registry', ['serve', config], { cwd: dir }, async () => ((await get(`${url}/v2/`).then((r) => r.status === 200, () => false)) ? port : undefined));
  return { url };
}

/**
 * Hosted reads of every format, each beside nginx serving the same bytes from a file: an npm
 * tarball anonymously and with a token, a PyPI project page and wheel, a Maven jar and its
 * maven-metadata.xml, an OCI blob (and the distribution registry serving the same blob).
 */
async function formatReads() {
  const rc = await startRegistryCore(`auth: { allowRegistration: true }
repositories:
  npm-local: { format: npm, type: hosted }
  pypi-local: { format: pypi, type: hosted }
  maven-local: { format: maven, type: hosted }
  oci-local: { format: oci, type: hosted }
`);
  const user = await send('PUT', `${rc.url}/npm-local/-/user/org.couchdb.user:bench`, {}, JSON.stringify({ name: 'bench', password: 'bench-password-1', type: 'user', email: 'bench@example.org' }));
  const token = JSON.parse(user.body).token;
  if (!token) throw new Error(`no token from adduser: ${user.status} ${user.body}`);
  const basic = { authorization: `Basic ${Buffer.from('bench:bench-password-1').toString('base64')}` };
  // About the size of a typical small package (the tarball scenario's is 27.7 KB), not compressible.
  const payload = Buffer.from(Array.from({ length: 27_000 }, (_, i) => 'abcdefghijklmnopqrstuvwxyz0123456789'[(i * 7919 + ((i * i) % 131)) % 36]).join(''));

  // npm: a hosted tarball.
  const manifest = { name: 'bench-format-reads', version: '1.0.0', description: 'bench', main: 'index.js' };
  const npmTarball = gzipSync(tar({ 'package/package.json': JSON.stringify(manifest), 'package/index.js': payload }, 1_700_000_000), { level: 0 });
  const published = await send('PUT', `${rc.url}/npm-local/${manifest.name}`, { authorization: `Bearer ${token}` }, publishBody(manifest, npmTarball, `${rc.url}/npm-local`));
  if (published.status !== 200 && published.status !== 201) throw new Error(`npm publish answered ${published.status}: ${published.body}`);
  const npmPath = `/npm-local/${manifest.name}/-/${manifest.name}-1.0.0.tgz`;

  // PyPI: a wheel, uploaded as twine does (multipart).
  const wheelName = 'bench_format_reads-1.0.0-py3-none-any.whl';
  const metadata = Buffer.from('Metadata-Version: 2.1\nName: bench-format-reads\nVersion: 1.0.0\nSummary: bench\n');
  const wheelFiles = {
    'bench_format_reads/__init__.py': payload,
    'bench_format_reads-1.0.0.dist-info/METADATA': metadata,
    'bench_format_reads-1.0.0.dist-info/WHEEL': Buffer.from('Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n'),
  };
  const record = Object.entries(wheelFiles).map(([name, data]) => `${name},sha256=${createHash('sha256').update(data).digest('base64url')},${data.length}`).join('\n');
  const wheel = storedZip(Object.entries({ ...wheelFiles, 'bench_format_reads-1.0.0.dist-info/RECORD': Buffer.from(`${record}\nbench_format_reads-1.0.0.dist-info/RECORD,,\n`) }));
  const boundary = `bench${Date.now()}`;
  const field = (name, value) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const form = Buffer.concat([
    Buffer.from(
      [[':action', 'file_upload'], ['protocol_version', '1'], ['metadata_version', '2.1'], ['name', 'bench-format-reads'], ['version', '1.0.0'], ['filetype', 'bdist_wheel'], ['pyversion', 'py3'], ['sha256_digest', createHash('sha256').update(wheel).digest('hex')]]
        .map(([k, v]) => field(k, v))
        .join(''),
    ),
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="content"; filename="${wheelName}"\r\nContent-Type: application/octet-stream\r\n\r\n`),
    wheel,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const uploaded = await call('POST', `${rc.url}/pypi-local/`, { ...basic, 'content-type': `multipart/form-data; boundary=${boundary}` }, form);
  if (uploaded.status !== 200) throw new Error(`PyPI upload answered ${uploaded.status}: ${uploaded.body}`);
  const pagePath = '/pypi-local/simple/bench-format-reads/';
  const page = await get(`${rc.url}${pagePath}`, { accept: 'text/html' });
  const wheelHref = /href="([^"#]+)/.exec(page.body.toString('utf8'))?.[1];
  if (!wheelHref) throw new Error(`no file on the project page: ${page.body}`);
  const wheelPath = new URL(wheelHref, `${rc.url}${pagePath}`).pathname;

  // Maven: a jar and its POM, deployed as mvn does.
  const mavenBase = `${rc.url}/maven-local/com/example/bench/1.0.0/bench-1.0.0`;
  const jar = storedZip([['META-INF/MANIFEST.MF', Buffer.from('Manifest-Version: 1.0\n')], ['com/example/bench/Payload.txt', payload]]);
  const pom = Buffer.from('<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId><artifactId>bench</artifactId><version>1.0.0</version></project>');
  for (const [url, bytes] of [[`${mavenBase}.jar`, jar], [`${mavenBase}.pom`, pom]]) {
    const put = await call('PUT', url, basic, bytes);
    if (put.status !== 201 && put.status !== 200) throw new Error(`Maven deploy of ${url} answered ${put.status}: ${put.body}`);
  }
  const jarPath = '/maven-local/com/example/bench/1.0.0/bench-1.0.0.jar';
  const mavenMetadataPath = '/maven-local/com/example/bench/maven-metadata.xml';

  // OCI: one blob in an image, in registry-core and in the distribution registry.
  const distribution = await startDistribution();
  const blob = gzipSync(payload, { level: 0 });
  const layer = await ociPush(`${rc.url}/oci-local/v2/`, 'bench/image', blob, 'bench:bench-password-1');
  await ociPush(`${distribution.url}/v2/`, 'bench/image', blob);
  const blobPath = `/oci-local/v2/bench/image/blobs/${layer}`;

  const files = {};
  for (const [name, p] of [['tarball.tgz', npmPath], ['page.html', pagePath], ['wheel.whl', wheelPath], ['bench.jar', jarPath], ['maven-metadata.xml', mavenMetadataPath], ['blob', blobPath]]) {
    const answer = await get(`${rc.url}${p}`);
    if (answer.status !== 200) throw new Error(`${p} answered ${answer.status}`);
    files[name] = answer.body;
    await get(`${rc.url}${p}`);
  }
  const nginx = await startNginx(files);
  console.log(`format reads: npm tarball ${fmt(files['tarball.tgz'].length)} B, PyPI page ${fmt(files['page.html'].length)} B and wheel ${fmt(files['wheel.whl'].length)} B, Maven jar ${fmt(files['bench.jar'].length)} B and metadata ${fmt(files['maven-metadata.xml'].length)} B, OCI blob ${fmt(files.blob.length)} B`);
  const bearer = { authorization: `Bearer ${token}` };
  const cases = [
    ['npm tarball, anonymous', `${rc.url}${npmPath}`, {}, 'tarball.tgz', 0.8],
    ['npm tarball, with a token', `${rc.url}${npmPath}`, bearer, 'tarball.tgz', 0.5],
    ['PyPI project page', `${rc.url}${pagePath}`, { accept: 'text/html' }, 'page.html', 0.5],
    ['PyPI wheel', `${rc.url}${wheelPath}`, {}, 'wheel.whl', 0.5],
    ['Maven jar', `${rc.url}${jarPath}`, {}, 'bench.jar', 0.5],
    ['Maven maven-metadata.xml', `${rc.url}${mavenMetadataPath}`, {}, 'maven-metadata.xml', 0.5],
    ['OCI blob', `${rc.url}${blobPath}`, {}, 'blob', 0.5],
  ];
  // Each read and nginx's serving the same file in turns (see inTurns).
  for (const [label, url, headers, file, target] of cases) {
    const turns = inTurns({ registry: [url, headers, rc.pid], nginx: [`${nginx.url}/${file}`, {}] });
    const ratio = turns.registry.rps / turns.nginx.rps;
    row(`${label}, registry-core`, `${rate(turns.registry)}; nginx ${rate(turns.nginx)}`);
    row(`${label}, registry-core / nginx`, `${fmt(ratio, 2)}x`, `>= ${target}x`, ratio >= target);
  }
  const oci = cases.find((c) => c[0] === 'OCI blob');
  const blobs = inTurns({ registry: [oci[1], {}, rc.pid], distribution: [`${distribution.url}/v2/bench/image/blobs/${layer}`, {}] });
  row('OCI blob, distribution registry', rate(blobs.distribution));
  row('OCI blob, registry-core / distribution registry', `${fmt(blobs.registry.rps / blobs.distribution.rps, 2)}x`);
  await rc.stop();
}

/** Bytes generated on the fly (never held in memory), the same for a given length. */
function generated(length) {
  const block = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < block.length; i++) block[i] = (i * 131) & 0xff;
  let sent = 0;
  return Readable.from(
    (function* () {
      while (sent < length) {
        const n = Math.min(block.length, length - sent);
        sent += n;
        yield n === block.length ? block : block.subarray(0, n);
      }
    })(),
  );
}

/**
 * One node with `storage` (YAML flow for `storage.default`, or none for the folder default):
 * a `bytes`-long upload, download and proxied miss of a generated file, RSS of the node
 * sampled every 100 ms. With `redirected`, also a download the node answers with a redirect
 * to the store (storage.default.redirect set), followed by the client.
 */
async function bigFile(label, bytes, storage, { redirected = false } = {}) {
  const origin = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes });
    generated(bytes).pipe(res);
  });
  await new Promise((r) => origin.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => origin.close(r)));
  const rc = await startRegistryCore(`plugins: ["${rawPlugin}"]
limits: { maxUploadSize: ${bytes + 1024} }
auth: { allowRegistration: true }
${storage ? `storage:\n  default: ${storage}\n` : ''}repositories:
  files: { format: raw, type: hosted }
  mirror: { format: raw, type: proxy, upstream: "http://127.0.0.1:${origin.address().port}/" }
`);
  execFileSync(process.execPath, [cli, 'user', 'add', 'bench', '--password', 'bench-password-1', '--config', path.join(rc.dir, 'registry-core.config.yaml')], { stdio: 'ignore' });
  const token = execFileSync(process.execPath, [cli, 'token', 'create', '--user', 'bench', '--config', path.join(rc.dir, 'registry-core.config.yaml')], { encoding: 'utf8' }).trim().split('\n').pop();
  const sample = async (work) => {
    await sleep(500);
    const baseline = memory(rc.pid).rssMb;
    let highest = baseline;
    const timer = setInterval(() => {
      if (rc.child.exitCode !== null || rc.child.signalCode !== null) return;
      highest = Math.max(highest, memory(rc.pid).rssMb);
    }, 100);
    const started = performance.now();
    try {
      await work();
    } catch (error) {
      throw new Error(`${label}: ${error.message}\n--- the node's output:\n${rc.output().slice(-4000)}`);
    } finally {
      clearInterval(timer);
    }
    if (rc.child.exitCode !== null || rc.child.signalCode !== null) throw new Error(`${label}: the node exited (${rc.child.exitCode ?? rc.child.signalCode}):\n${rc.output().slice(-4000)}`);
    return { baseline, growth: highest - baseline, seconds: (performance.now() - started) / 1000 };
  };
  const drain = async (url) => {
    // fetch follows a redirect to the store; its body is counted as it arrives.
    const answer = await fetch(url);
    let n = 0;
    for await (const chunk of answer.body) n += chunk.length;
    if (answer.status !== 200 || n !== bytes) throw new Error(`${url}: ${answer.status}, got ${n} bytes`);
    return answer.redirected;
  };
  const gb = fmt(bytes / 1024 ** 3, 1);
  const upload = await sample(
    () =>
      new Promise((resolve, reject) => {
        const req = httpRequest(`${rc.url}/files/big.bin`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-length': bytes } }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 201 ? resolve() : reject(new Error(`upload answered ${res.statusCode}`))));
        });
        req.on('error', reject);
        generated(bytes).pipe(req);
      }),
  );
  const mbps = (run) => `${fmt(bytes / 1024 ** 2 / run.seconds)} MB/s`;
  row(`${label}: ${gb} GB upload to a hosted repository`, `RSS growth ${fmt(upload.growth)} MB over ${fmt(upload.baseline)} MB, ${fmt(upload.seconds, 1)} s (${mbps(upload)})`, '< 64 MB', upload.growth < 64);
  let wasRedirected = false;
  const download = await sample(async () => (wasRedirected = await drain(`${rc.url}/files/big.bin`)));
  row(`${label}: ${gb} GB download${wasRedirected ? ' (redirected to the store)' : ''}`, `RSS growth ${fmt(download.growth)} MB, ${fmt(download.seconds, 1)} s (${mbps(download)})`, '< 64 MB', download.growth < 64);
  if (redirected && !wasRedirected) fail(`${label}: the download was not redirected`);
  const proxied = await sample(() => drain(`${rc.url}/mirror/big.bin`));
  row(`${label}: ${gb} GB proxied miss (streamed while stored)`, `RSS growth ${fmt(proxied.growth)} MB, ${fmt(proxied.seconds, 1)} s (${mbps(proxied)})`, '< 64 MB', proxied.growth < 64);
  await rc.stop();
}

async function streaming() {
  await bigFile('folder (fs)', STREAM_BYTES);
}

/** The emulators the drivers' tests use, started from those packages' devDependencies. */
async function drivers() {
  const { startS3rver } = await import(path.join(root, 'core', 'testing', 'dist', 's3rver.js'));
  const chosen = new Set(flag('drivers', 'fs,s3,azure').split(','));
  if (chosen.has('fs')) await bigFile('fs', DRIVER_BYTES);
  if (chosen.has('s3')) {
  const s3 = await startS3rver({ fromDir: path.join(root, 'storage-drivers', 's3'), buckets: ['bench'] });
  cleanups.push(() => s3.stop());
  const s3Block = `{ driver: s3, bucket: bench, endpoint: "${s3.endpoint}", accessKeyId: ${s3.accessKeyId}, secretAccessKey: ${s3.secretAccessKey}`;
  await bigFile('s3 (s3rver)', DRIVER_BYTES, `${s3Block} }`);
  await bigFile('s3 (s3rver), redirect', DRIVER_BYTES, `${s3Block}, publicEndpoint: "${s3.endpoint.replace('127.0.0.1', 'localhost')}", redirect: true }`, { redirected: true });
  }
  if (!chosen.has('azure')) return;
  const azure = await startAzurite();
  const azureBlock = `{ driver: azure, container: bench, accountName: ${azure.account}, accountKey: "${azure.key}", endpoint: "${azure.endpoint}"`;
  await bigFile('azure (azurite)', DRIVER_BYTES, `${azureBlock} }`);
  await bigFile('azure (azurite), redirect', DRIVER_BYTES, `${azureBlock}, redirect: true }`, { redirected: true });
}

/** Azurite's blob service from the azure driver's devDependencies, with a `bench` container. */
async function startAzurite() {
  const driverDir = path.join(root, 'storage-drivers', 'azure');
  const { BlobServiceClient, StorageSharedKeyCredential } = createRequire(path.join(driverDir, 'package.json'))('@azure/storage-blob');
  const account = 'devstoreaccount1';
  const key = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
  const port = await freePort();
  const dir = temp('azurite');
  const child = spawn(path.join(driverDir, 'node_modules', '.bin', 'azurite-blob'), ['--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', dir, '--silent', '--disableTelemetry', '--skipApiVersionCheck', '--loose'], { stdio: 'ignore' });
  cleanups.push(async () => {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  });
  const endpoint = `http://127.0.0.1:${port}/${account}`;
  const service = new BlobServiceClient(endpoint, new StorageSharedKeyCredential(account, key));
  for (let attempt = 0; ; attempt++) {
    if (await service.getProperties().then(() => true, () => false)) break;
    if (attempt > 200) fail('azurite did not start');
    await sleep(50);
  }
  await service.getContainerClient('bench').create();
  return { account, key, endpoint };
}

// ---------------------------------------------------------------- run

const started = Date.now();
const commit = (() => {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${head} (with uncommitted changes)` : head;
  } catch {
    return 'unknown';
  }
})();
const loadAverage = () => loadavg().map((l) => l.toFixed(1)).join(' / ');
const heading = `registry-core bench, ${new Date().toISOString()}, commit ${commit}, Node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}); wrk -t1 -c${connections} -d${duration}s; nginx 1 worker`;
const loadAtStart = loadAverage();
console.log(`${heading}; load average ${loadAtStart}`);
try {
  if (only.has('tarball') || only.has('packument') || only.has('memory')) await readLoad();
  if (only.has('memory-tuned')) await tunedMemory();
  if (only.has('cold')) await coldBurst();
  if (only.has('publish')) await publishes();
  if (only.has('stream')) await streaming();
  if (only.has('install')) await installs();
  if (only.has('pnpm-install')) await pnpmInstalls();
  if (only.has('formats')) await formatReads();
  if (only.has('drivers')) await drivers();
  if (only.has('analytics')) await analyticsCost();
  if (only.has('workers')) await workerScaling();
} finally {
  await cleanup();
}
// One table per format (and for what is every format's), in the order first seen.
const SECTIONS = [
  ['PyPI', /PyPI/],
  ['Maven', /Maven/],
  ['OCI', /OCI|distribution registry/],
  ['Download counting (every format)', /download counting/],
  ['Workers (every format)', /worker/i],
  ['Large files and storage drivers', /driver|\bGB\b|GiB/],
  ['npm', /./],
];
const sections = new Map();
for (const r of rows) {
  const [title] = SECTIONS.find(([, pattern]) => pattern.test(r.scenario));
  if (!sections.has(title)) sections.set(title, []);
  sections.get(title).push(r);
}
const report = [`${heading}; load average (1 / 5 / 15 min) ${loadAtStart} at the start, ${loadAverage()} at the end; ${fmt((Date.now() - started) / 1000)} s`];
for (const [title, list] of sections) {
  report.push('', `### ${title}`, '', '| scenario | figure | target | result |', '| --- | --- | --- | --- |');
  for (const r of list) report.push(`| ${r.scenario} | ${r.figure} | ${r.target} | ${r.result} |`);
}
console.log(`\n${report.join('\n')}`);
const markdownFile = flag('markdown', undefined);
if (markdownFile) writeFileSync(markdownFile, `${report.join('\n')}\n`);
