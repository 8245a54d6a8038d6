// node bench/metadata-stall.mjs [--mb 60] [--runs 3] [--root <repo>]
//
// How long one huge upstream npm packument holds the server's event loop. A fixture upstream
// (in this process) serves a packument of about --mb MiB (versions of ~2.9 KB each); a fresh
// registry-core (zero-config but for one npm proxy) is started per run, and while /-/health is
// asked back to back, the script GETs through the proxy:
//   cold      the packument, not cached yet (upstream fetch, store, parse, sanitize, render)
//   warm      the same again (stored: read, parse, render unless the derived cache kept it)
//   abbrev    the abbreviated document (Accept: application/vnd.npm.install-v1+json)
// (after 5 s of probing alone: the floor, what the machine's own noise gives) and prints, per GET, the slowest /-/health answer (the longest the server could not answer
// a cached request), the GET's time, and at the end the server's peak RSS (VmHWM).
// BENCH_SERVER_NODE_ARGS passes Node flags to the server only (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    mb: { type: 'string', default: '60' },
    runs: { type: 'string', default: '3' },
    root: { type: 'string', default: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..') },
  },
});
const mb = Number(args.mb);
const runs = Number(args.runs);
const root = path.resolve(args.root);
const serverNodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);

const versions = {};
for (let v = 0; v < (mb * 1048576) / 2950; v++) {
  versions[`1.0.${v}`] = { name: 'big', version: `1.0.${v}`, description: 'd'.repeat(2800), dist: { tarball: `http://x/big/-/big-1.0.${v}.tgz`, shasum: 'a'.repeat(40) } };
}
const doc = Buffer.from(JSON.stringify({ name: 'big', 'dist-tags': { latest: '1.0.0' }, versions }));
const upstream = createServer((req, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-length': doc.length }).end(doc));
await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));

const statusOf = (pid) => readFileSync(`/proc/${pid}/status`, 'utf8');
const kb = (status, field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)[1]);

/** GET `url` (the body counted, not kept; none: wait `idleMs`) while /-/health is asked back to back. */
async function probed(base, url, headers, idleMs = 0) {
  let pending = true;
  let worst = 0;
  let probes = 0;
  const probe = (async () => {
    while (pending) {
      const t = performance.now();
      await (await fetch(`${base}/-/health`)).text();
      worst = Math.max(worst, performance.now() - t);
      probes++;
    }
  })();
  const t0 = performance.now();
  let status = 0;
  let bytes = 0;
  if (url) {
    const res = await fetch(url, { headers });
    status = res.status;
    for await (const chunk of res.body) bytes += chunk.length;
  } else await new Promise((resolve) => setTimeout(resolve, idleMs));
  const ms = performance.now() - t0;
  pending = false;
  await probe;
  return { status, answerMB: +(bytes / 1048576).toFixed(1), requestMs: Math.round(ms), probes, slowestHealthMs: Math.round(worst) };
}

async function run() {
  const dir = mkdtempSync(path.join(tmpdir(), 'metadata-stall-'));
  writeFileSync(path.join(dir, 'c.yaml'), `repositories:\n  npm-proxy: { format: npm, type: proxy, upstream: "http://127.0.0.1:${upstream.address().port}/" }\n`);
  const child = spawn(process.execPath, [...serverNodeArgs, path.join(root, 'cli/bin/registry-core.js'), 'start', '--config', path.join(dir, 'c.yaml'), '--port', '0'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    let out = '';
    const port = await new Promise((resolve, reject) => {
      const on = (d) => {
        out += d;
        const m = /listening on port (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      };
      child.stdout.on('data', on);
      child.stderr.on('data', on);
      child.once('exit', (code) => reject(new Error(`server exited (${code}):\n${out}`)));
    });
    const base = `http://127.0.0.1:${port}`;
    await (await fetch(`${base}/-/health`)).text();
    const rssBeforeMB = Math.round(kb(statusOf(child.pid), 'VmRSS') / 1024);
    const url = `${base}/npm-proxy/big`;
    // The floor: the slowest answer with nothing else to do (the machine's own noise).
    const idle = await probed(base, undefined, {}, 5000);
    const cold = await probed(base, url, { accept: 'application/json' });
    const warm = await probed(base, url, { accept: 'application/json' });
    const abbrev = await probed(base, url, { accept: 'application/vnd.npm.install-v1+json' });
    const peakRssMB = Math.round(kb(statusOf(child.pid), 'VmHWM') / 1024);
    return { idle, cold, warm, abbrev, rssBeforeMB, peakRssMB };
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`root ${root}, packument ${(doc.length / 1048576).toFixed(1)} MiB (${Object.keys(versions).length} versions), Node ${process.version}`);
const results = [];
for (let i = 0; i < runs; i++) {
  const r = await run();
  results.push(r);
  console.log(JSON.stringify({ run: i + 1, ...r }));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log('\n| GET | slowest /-/health, each run (ms) | median | GET time, median (ms) |');
console.log('| --- | --- | --- | --- |');
for (const phase of ['idle', 'cold', 'warm', 'abbrev']) {
  const worst = results.map((r) => r[phase].slowestHealthMs);
  console.log(`| ${phase} | ${worst.join(', ')} | ${median(worst)} | ${median(results.map((r) => r[phase].requestMs))} |`);
}
console.log(`| peak RSS (MB) | ${results.map((r) => r.peakRssMB).join(', ')} | ${median(results.map((r) => r.peakRssMB))} | |`);
upstream.close();
