// A conda proxy serving repodata.json.bz2 of a large upstream document: how long the first
// (compressing) request takes, whether the server keeps answering meanwhile (the slowest
// /-/health answer while it runs, asked back to back), the server's peak RSS, and the
// repeat (derived cache) and revalidation (304). The answer is checked with `bzip2 -dc`
// against repodata.json. Usage: node bench/conda-bz2-serve.mjs [--mb 20] [--root <checkout>]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cleanup, spawnServer, temp } from './lib.mjs';

const { values: args } = parseArgs({ options: { mb: { type: 'string', default: '20' }, root: { type: 'string', default: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..') } } });
const root = path.resolve(args.root);

// Records shaped as conda-forge's (names valid for conda, so the proxy serves every one).
const rows = [];
let size = 0;
for (let i = 0; size < Number(args.mb) * 1e6; i++) {
  const sha = createHash('sha256').update(String(i)).digest('hex');
  const row = `"rc-bulk-${i % 7000}-1.${i}-py_${i % 5}.conda":${JSON.stringify({ name: `rc-bulk-${i % 7000}`, version: `1.${i}`, build: `py_${i % 5}`, build_number: i % 5, depends: [`python >=3.${i % 13}`, `rc-dep-${i % 301} >=${i % 7}.0,<${(i % 7) + 1}.0a0`], license: 'BSD-3-Clause', md5: sha.slice(0, 32), sha256: sha, size: 1000 + i, subdir: 'linux-64', timestamp: 1700000000000 + i })}`;
  rows.push(row);
  size += row.length + 1;
}
const repodata = Buffer.from(`{"info":{"subdir":"linux-64"},"packages":{},"packages.conda":{${rows.join(',')}},"removed":[],"repodata_version":1}`);
rows.length = 0;
const upstream = createServer((req, res) => {
  if (req.url === '/channel/linux-64/repodata.json') res.writeHead(200, { 'content-type': 'application/json', 'content-length': repodata.length }).end(repodata);
  else res.writeHead(404).end();
});
await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));

const kb = (pid, field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

/** GET `url` (the body kept) while /-/health is asked back to back. */
async function probed(base, url, headers = {}, idleMs = 0) {
  let pending = true;
  let worst = 0;
  const probe = (async () => {
    while (pending) {
      const t = performance.now();
      await (await fetch(`${base}/-/health`)).text();
      worst = Math.max(worst, performance.now() - t);
    }
  })();
  const t0 = performance.now();
  let status = 0;
  const chunks = [];
  if (url) {
    const res = await fetch(url, { headers });
    status = res.status;
    if (res.body) for await (const chunk of res.body) chunks.push(chunk);
  } else await new Promise((resolve) => setTimeout(resolve, idleMs));
  const ms = performance.now() - t0;
  pending = false;
  await probe;
  return { status, body: Buffer.concat(chunks), ms: Math.round(ms), slowestHealthMs: Math.round(worst) };
}

const dir = temp('conda-bz2');
writeFileSync(path.join(dir, 'c.yaml'), `repositories:\n  conda-proxy: { format: conda, type: proxy, upstream: "http://127.0.0.1:${upstream.address().port}/channel/" }\n`);
const server = await spawnServer(process.execPath, [path.join(root, 'cli/bin/registry-core.js'), 'start', '--config', path.join(dir, 'c.yaml'), '--port', '0'], { cwd: dir }, (out) => /listening on port (\d+)/.exec(out)?.[1]);
const child = server.child;
try {
  const base = `http://127.0.0.1:${server.value}`;
  const url = `${base}/conda-proxy/linux-64/repodata.json`;
  await (await fetch(`${base}/-/health`)).text();
  const idle = await probed(base, undefined, {}, 3000);
  const json = await probed(base, url);
  const rssBefore = Math.round(kb(child.pid, 'VmHWM') / 1024);
  const cold = await probed(base, `${url}.bz2`);
  const rssAfter = Math.round(kb(child.pid, 'VmHWM') / 1024);
  const again = await probed(base, `${url}.bz2`);
  const head = await fetch(`${url}.bz2`, { method: 'HEAD' });
  const etag = head.headers.get('etag');
  const revalidated = await probed(base, `${url}.bz2`, { 'if-none-match': etag });
  const decoded = execFileSync('bzip2', ['-dc'], { input: cold.body, maxBuffer: 4 * repodata.length });
  if (!decoded.equals(json.body) || !again.body.equals(cold.body)) throw new Error('the .bz2 answer is not repodata.json compressed');
  console.log(`upstream repodata ${(repodata.length / 1e6).toFixed(1)} MB; Node ${process.version}`);
  console.log('| request | status | time | slowest /-/health meanwhile | answer |\n| --- | --- | --- | --- | --- |');
  console.log(`| (idle, 3 s) | | | ${idle.slowestHealthMs} ms | |`);
  for (const [name, r] of [['repodata.json (first: upstream fetch, check)', json], ['repodata.json.bz2, first (compressed)', cold], ['repodata.json.bz2 again (derived cache)', again], ['repodata.json.bz2, If-None-Match', revalidated]]) {
    console.log(`| ${name} | ${r.status} | ${(r.ms / 1000).toFixed(1)} s | ${r.slowestHealthMs} ms | ${(r.body.length / 1e6).toFixed(2)} MB |`);
  }
  console.log(`server peak RSS: ${rssBefore} MB before the .bz2, ${rssAfter} MB after it (VmHWM)`);
} finally {
  upstream.close();
  await cleanup();
}
