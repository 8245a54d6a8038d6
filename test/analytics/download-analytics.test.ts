// Download analytics driven by the real clients: npm installs, a pip install and a skopeo
// copy through groups (hosted and proxy members), then `registry-core stats --json` (with
// the server running and stopped) and the stats API give the exact counts per version and
// per day; a kill -9 loses nothing already flushed, a graceful stop flushes what it holds.
// The same traffic in the Prometheus metrics, read by a real parser of the text format.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NpmClient, makeProject } from '../helpers/npm-client.js';
import { publishPackage } from '../helpers/npm-publish-body.js';
import { buildProject, makeVenv, run, twineUpload } from '../helpers/python.js';
import { skopeo, writeMultiArchLayout } from '../helpers/oci.js';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { createUserAndToken, eventually, runCli, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

const today = () => new Date().toISOString().slice(0, 10);

interface PackageStats {
  downloads: number;
  versions: { version: string; downloads: number }[];
  days: { day: string; downloads: number }[];
  cache: Record<string, number>;
}

async function publishNpm(registry: RunningRegistry, repository: string, token: string, manifest: Record<string, unknown>): Promise<void> {
  expect(await publishPackage(registry.url, repository, token, manifest)).toBe(201);
}

async function cliStats(configFile: string, args: string[] = []): Promise<any> {
  const printed = await runCli(['stats', '--json', '--config', configFile, ...args]);
  expect(printed.code, printed.stderr).toBe(0);
  return JSON.parse(printed.stdout);
}

const versionsOf = (stats: PackageStats | undefined) => Object.fromEntries((stats?.versions ?? []).map((v) => [v.version, v.downloads]));

describe('download analytics with npm, pip and skopeo through groups', () => {
  let upstream: RunningRegistry;
  let node: RunningRegistry;
  let admin: string;
  let dir: string;

  const api = async (pathAndQuery: string, token: string | null = admin) => {
    const answer = await fetch(`${node.url}/-/api/stats${pathAndQuery}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: answer.status, body: (await answer.json()) as any };
  };
  /** The package's counts once `ok` holds (counts land at the next flush, every second here). */
  const settled = (name: string, ok: (s: PackageStats) => boolean) =>
    eventually(async () => (await api(`/package?name=${encodeURIComponent(name)}`)).body as PackageStats, (s) => s.downloads !== undefined && ok(s));

  beforeAll(async () => {
    upstream = await startRegistry(`repositories:
  npm-local: { format: npm, type: hosted }
  py-local: { format: pypi, type: hosted }
  oci-local: { format: oci, type: hosted }
`);
    const seed = await createUserAndToken(upstream.configFile, 'seed');
    await publishNpm(upstream, 'npm-local', seed, { name: 'rc-shared', version: '1.0.0' });
    await publishNpm(upstream, 'npm-local', seed, { name: 'rc-shared', version: '1.1.0' });
    const dep = await buildProject({ name: 'rc-stats-dep', version: '2.0.0', module: 'rc_stats_dep' });
    const seeded = await twineUpload(`${upstream.url}/py-local/`, '__token__', seed, [dep.wheel]);
    expect(seeded.code, seeded.stdout + seeded.stderr).toBe(0);
    const layout = tempDir('oci-stats');
    writeMultiArchLayout(layout, '1', 1);
    const pushed = await skopeo(['copy', '--all', '--dest-tls-verify=false', '--dest-creds', 'seed:correct-horse-battery', `oci:${layout}:1`, `docker://127.0.0.1:${upstream.port}/oci-local/base:1`]);
    expect(pushed.code, pushed.stderr).toBe(0);

    dir = tempDir('analytics');
    node = await startRegistry(
      `analytics: { flushSeconds: 1 }
metrics: { enabled: true }
logging: { accessLogFile: access.jsonl }
repositories:
  npm-local: { format: npm, type: hosted }
  npm-proxy: { format: npm, type: proxy, upstream: "${upstream.url}/npm-local/" }
  npm: { format: npm, type: group, members: [npm-local, npm-proxy] }
  pypi-local: { format: pypi, type: hosted }
  pypi-proxy: { format: pypi, type: proxy, upstream: "${upstream.url}/py-local/simple/" }
  pypi: { format: pypi, type: group, members: [pypi-local, pypi-proxy] }
  oci-local: { format: oci, type: hosted }
  oci-proxy: { format: oci, type: proxy, upstream: "${upstream.url}/oci-local/" }
  oci: { format: oci, type: group, members: [oci-local, oci-proxy] }
`,
      { dir },
    );
    const added = await runCli(['user', 'add', 'root', '--password', 'root-password-1', '--roles', 'admin', '--config', node.configFile]);
    expect(added.code, added.stderr).toBe(0);
    admin = (await runCli(['token', 'create', '--user', 'root', '--config', node.configFile])).stdout.trim().split('\n').pop()!;
    const publisher = await createUserAndToken(node.configFile, 'pat');
    await publishNpm(node, 'npm-local', publisher, { name: 'rc-app', version: '1.0.0', dependencies: { 'rc-shared': '^1.0.0' } });
    const app = await buildProject({ name: 'rc-stats-app', version: '1.0.0', module: 'rc_stats_app', requires: ['rc-stats-dep>=2.0'] });
    const uploaded = await twineUpload(`${node.url}/pypi-local/`, '__token__', publisher, [app.wheel]);
    expect(uploaded.code, uploaded.stdout + uploaded.stderr).toBe(0);
  }, 240_000);

  afterAll(async () => {
    await node?.stop();
    await upstream?.stop();
  });

  it('counts npm installs per version and day: hosted reads, a proxy MISS then HITs', async () => {
    // Two fresh clients (no npm cache): each downloads every tarball once.
    for (let i = 0; i < 2; i++) {
      const client = new NpmClient(`${node.url}/npm/`);
      const installed = await client.npm(['install', '--no-package-lock'], makeProject({ 'rc-app': '1.0.0' }));
      expect(installed.code, installed.stderr).toBe(0);
    }
    const shared = await settled('rc-shared', (s) => s.downloads >= 2);
    expect(versionsOf(shared)).toEqual({ '1.1.0': 2 });
    expect(shared.cache).toEqual({ HIT: 1, MISS: 1, STALE: 0, HOSTED: 0 });
    expect(shared.days.at(-1)).toMatchObject({ day: today(), downloads: 2 });
    const app = await settled('rc-app', (s) => s.downloads >= 2);
    expect(versionsOf(app)).toEqual({ '1.0.0': 2 });
    expect(app.cache['HOSTED']).toBe(2);
    // Metadata is no download: the packuments the clients read are counted nowhere.
    const top = (await api('/top?format=npm')).body;
    expect(top.packages.map((p: { name: string; downloads: number }) => [p.name, p.downloads])).toEqual([
      ['rc-app', 2],
      ['rc-shared', 2],
    ]);
  });

  it('counts a pip install (its PEP 658 metadata file is no download) and a skopeo copy', async () => {
    const venv = await makeVenv();
    const installed = await run(path.join(venv, 'bin', 'pip'), ['install', '--no-cache-dir', '--index-url', `${node.url}/pypi/simple/`, 'rc-stats-app']);
    expect(installed.code, installed.stdout + installed.stderr).toBe(0);
    const dep = await settled('rc-stats-dep', (s) => s.downloads >= 1);
    expect(versionsOf(dep)).toEqual({ '2.0.0': 1 });
    expect(dep.cache['MISS']).toBe(1);
    expect(versionsOf(await settled('rc-stats-app', (s) => s.downloads >= 1))).toEqual({ '1.0.0': 1 });

    const target = mkdtempSync(path.join(tmpdir(), 'rc-stats-pull-'));
    const pulled = await skopeo(['copy', '--src-tls-verify=false', '--override-arch', 'amd64', `docker://127.0.0.1:${node.port}/oci/base:1`, `oci:${target}:1`]);
    expect(pulled.code, pulled.stderr).toBe(0);
    const image = await settled('base', (s) => (s.versions.find((v) => v.version === '1')?.downloads ?? 0) >= 1);
    expect(versionsOf(image)['1']).toBe(1);
  });

  it('shows the same figures in `registry-core stats --json` and its table, with totals and the top list', async () => {
    const report = await cliStats(node.configFile, ['--top', '5']);
    const top = Object.fromEntries(report.top.map((p: { format: string; name: string; downloads: number }) => [`${p.format}:${p.name}`, p.downloads]));
    expect(top).toMatchObject({ 'npm:rc-app': 2, 'npm:rc-shared': 2, 'pypi:rc-stats-dep': 1, 'pypi:rc-stats-app': 1 });
    expect(report.totals.repositories['npm-proxy']).toMatchObject({ format: 'npm', downloads: 2, upstreamSaved: 1, artifacts: 1 });
    expect(report.totals.repositories['npm-local']).toMatchObject({ downloads: 2, artifacts: 1 });
    expect(report.totals.formats['npm'].downloads).toBe(4);
    expect(report.totals.all.bytesStored).toBeGreaterThan(0);
    const perGroup = await cliStats(node.configFile, ['--repository', 'npm', '--package', 'rc-shared']);
    expect(versionsOf(perGroup)).toEqual({ '1.1.0': 2 });
    expect(perGroup.days.at(-1)).toMatchObject({ day: today(), downloads: 2 });
    const pypiOnly = await cliStats(node.configFile, ['--format', 'pypi']);
    expect(pypiOnly.top.map((p: { name: string }) => p.name).sort()).toEqual(['rc-stats-app', 'rc-stats-dep']);
    const table = await runCli(['stats', '--config', node.configFile]);
    expect(table.stdout).toMatch(/rc-shared\s+2/);
    // /-/stats carries the totals too.
    const stats = (await (await fetch(`${node.url}/-/stats`)).json()) as { analytics: { all: { downloads: number } } };
    expect(stats.analytics.all.downloads).toBeGreaterThanOrEqual(6);
  });

  it('answers per repository for readers, everything only for administrators', async () => {
    expect((await api('/top', null)).status).toBe(401);
    const reader = await createUserAndToken(node.configFile, 'reader');
    expect((await api('/top', reader)).status).toBe(403);
    const mine = await api('/top?repository=npm', reader);
    expect(mine.status).toBe(200);
    expect(mine.body.packages.map((p: { name: string }) => p.name).sort()).toEqual(['rc-app', 'rc-shared']);
    const recent = await api('/recent?repository=npm-proxy');
    expect(recent.body.files.map((f: { path: string }) => f.path)).toContain('rc-shared/-/rc-shared-1.1.0.tgz');
    const unused = await api('/unused?days=1');
    expect(unused.status).toBe(200);
    expect(unused.body.files).toEqual([]);
  });

  it('serves Prometheus metrics to administrators: requests by repository and status class, cache results, upstreams, bytes, process', async () => {
    expect((await fetch(`${node.url}/-/metrics`)).status).toBe(401);
    const scraped = await fetch(`${node.url}/-/metrics`, { headers: { authorization: `Bearer ${admin}` } });
    expect(scraped.status).toBe(200);
    expect(scraped.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await scraped.text();
    expect(text).toMatch(/^registry_http_request_duration_seconds_count\{repository="npm",format="npm",method="GET",status="2xx"\} [1-9]/m);
    const families = parsePrometheusTextFormat(text) as { name: string; type: string; metrics: { labels?: Record<string, string>; value?: string; count?: string }[] }[];
    const family = (name: string) => families.find((f) => f.name === name)!;
    const value = (name: string, labels: Record<string, string>) =>
      family(name).metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)).reduce((n, m) => n + Number(m.value ?? m.count), 0);
    expect(family('registry_http_requests_total').type).toBe('COUNTER');
    expect(value('registry_http_requests_total', { repository: 'npm', format: 'npm', method: 'GET', status: '2xx' })).toBeGreaterThan(0);
    expect(value('registry_http_requests_total', { repository: 'pypi', format: 'pypi', method: 'GET', status: '2xx' })).toBeGreaterThan(0);
    expect(family('registry_http_request_duration_seconds').type).toBe('HISTOGRAM');
    // (parse-prometheus-text-format 1.1.1 keeps a histogram's buckets but drops its labels, sum and count.)
    const histogram = family('registry_http_request_duration_seconds').metrics as unknown as { buckets: Record<string, string> }[];
    expect(Number(histogram[0]!.buckets['+Inf'])).toBeGreaterThan(0);
    expect(value('registry_cache_results_total', { repository: 'npm', result: 'MISS' })).toBeGreaterThan(0);
    expect(value('registry_cache_results_total', { repository: 'npm', result: 'HIT' })).toBeGreaterThan(0);
    expect(value('registry_upstream_requests', { repository: 'npm-proxy', format: 'npm' })).toBeGreaterThan(0);
    expect(value('registry_upstream_errors', { repository: 'npm-proxy' })).toBe(0);
    expect(value('registry_upstream_breaker_state', { repository: 'oci-proxy' })).toBe(0);
    expect(value('registry_http_response_bytes_total', { repository: 'npm' })).toBeGreaterThan(0);
    expect(value('registry_http_request_bytes_total', { repository: 'pypi-local' })).toBeGreaterThan(0);
    expect(text).toMatch(/^registry_upstream_request_duration_seconds_count\{repository="npm-proxy",format="npm",outcome="ok"\} [1-9]/m);
    expect(text).toMatch(/^registry_storage_operation_duration_seconds_count\{storage="default",operation="put",outcome="ok"\} [1-9]/m);
    expect(text).toMatch(/^registry_metadata_query_duration_seconds_count\{outcome="ok"\} [1-9]/m);
    expect(value('registry_open_uploads', {})).toBe(0);
    expect(value('process_resident_memory_bytes', {})).toBeGreaterThan(0);
    expect(family('nodejs_eventloop_lag_seconds')).toBeDefined();
    // Bounded labels: no package name, path or user anywhere.
    const labelValues = families.flatMap((f) => f.metrics.flatMap((m) => Object.values(m.labels ?? {})));
    expect(labelValues.filter((v) => /rc-|root|\//.test(v))).toEqual([]);
  });

  it('writes the structured access log: one JSON line per request with what was downloaded, never a credential', () => {
    const lines = readFileSync(path.join(dir, 'registry-data', 'access.jsonl'), 'utf8').trim().split('\n');
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const tarballs = entries.filter((e) => e['path'] === '/npm/rc-shared/-/rc-shared-1.1.0.tgz' && e['method'] === 'GET');
    expect(tarballs).toHaveLength(2);
    expect(tarballs.map((e) => e['cache']).sort()).toEqual(['HIT', 'MISS']);
    expect(tarballs[0]).toMatchObject({ repository: 'npm', format: 'npm', package: 'rc-shared', version: '1.1.0', status: 200, user: 'anonymous' });
    expect(typeof tarballs[0]!['bytes']).toBe('number');
    expect(typeof tarballs[0]!['ms']).toBe('number');
    expect(entries.some((e) => e['path'] === '/-/api/stats/top' && e['user'] === undefined)).toBe(true);
    expect(entries.some((e) => e['repository'] === 'pypi-local' && e['method'] === 'POST' && e['user'] === 'pat')).toBe(true);
    expect(lines.join('\n')).not.toContain(admin);
  });

  it('keeps what was flushed through a kill -9, and a graceful stop flushes what it holds', async () => {
    const before = (await settled('rc-app', () => true)).downloads;
    const client = new NpmClient(`${node.url}/npm/`);
    expect((await client.npm(['install', '--no-package-lock'], makeProject({ 'rc-app': '1.0.0' }))).code).toBe(0);
    await settled('rc-app', (s) => s.downloads === before + 1);
    node.process.kill('SIGKILL');
    await new Promise((resolve) => node.process.once('exit', resolve));
    // Read with the server down.
    const afterCrash = await cliStats(node.configFile, ['--package', 'rc-app']);
    expect(afterCrash.downloads).toBe(before + 1);

    // A window that never ends on its own: only the graceful stop writes the counts.
    const configFile = node.configFile;
    writeFileSync(configFile, readFileSync(configFile, 'utf8').replace('flushSeconds: 1', 'flushSeconds: 3600'));
    node = await startRegistry(undefined, { dir, args: ['--config', configFile] });
    const again = new NpmClient(`${node.url}/npm/`);
    expect((await again.npm(['install', '--no-package-lock'], makeProject({ 'rc-app': '1.0.0' }))).code).toBe(0);
    expect((await cliStats(configFile, ['--package', 'rc-app'])).downloads).toBe(before + 1);
    expect(await node.stop()).toBe(0);
    expect((await cliStats(configFile, ['--package', 'rc-app'])).downloads).toBe(before + 2);
  });
});
