#!/usr/bin/env node
// A soak test of one registry-core server: for --duration seconds, --connections workers
// (one keep-alive connection each) read and publish npm, PyPI, OCI and Maven packages through
// hosted, proxy and group repositories, speaking each wire protocol directly. Every answer's
// status (and, for files, its digest) is checked; the server's resident memory is sampled
// every 5 s. Prints the curve and a summary; exits 1 on any error or when memory is not flat.
// Not part of the test command.
//
//   node bench/soak.mjs [--duration 600] [--connections 64] [--publish-ratio 0.1] [--rate 60]
//
// --rate N (the default, 60): open loop at a steady N operations a second, whatever the
// machine's other load: operations are scheduled at fixed times and taken by the first free
// connection of the pool (latency counts from the scheduled time, so a queue shows). The
// memory rule needs a steady allocation rate, which a closed loop on a shared machine does
// not give. --rate 0: closed loop, each connection sends its next request when the last is
// answered (as fast as the server goes).
//
// The proxies' upstream is a second registry-core started here and seeded with packages:
// nothing reaches the internet.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { cpus } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { storedZip } from '../core/testing/dist/archives.js';
import { cleanup, fail, flag, fmt, median, memory, spawnServer, tar, temp } from './lib.mjs';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(benchDir, '..');
const cli = path.join(root, 'cli', 'bin', 'registry-core.js');
const heapProbe = path.join(benchDir, 'heap-probe.cjs');

const DURATION = Number(flag('duration', '600'));
const CONNECTIONS = Number(flag('connections', '64'));
const PUBLISH_RATIO = Number(flag('publish-ratio', '0.1'));
/** Operations a second, scheduled open loop; 0 = closed loop. */
const RATE = Number(flag('rate', '60'));
const SAMPLE_SECONDS = 5;
// Extra Node.js flags for the server under test only (heap snapshots: --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=DIR).
const SERVER_NODE_ARGS = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
// Extra top-level YAML for the server under test's config (e.g. smaller caches:
// --server-config "server: { memoryCacheSize: 8mb, derivedCacheSize: 8mb }").
const SERVER_CONFIG = flag('server-config', '');
/** Request timeout: a request taking longer is an error. */
const TIMEOUT_MS = 60_000;
/** Memory is flat when the median RSS of the last window is within this of the after-warmup median. */
const FLAT_TOLERANCE = 0.1;
const USER = 'soak';
const PASSWORD = 'soak-password-1';
const SEEDS = 6;
const SEED_VERSIONS = 3;

if (!Number.isFinite(DURATION) || DURATION < 10) fail('--duration must be at least 10 (seconds)');
if (!Number.isInteger(CONNECTIONS) || CONNECTIONS < 1) fail('--connections must be a positive integer');
if (!(RATE >= 0 && Number.isFinite(RATE))) fail('--rate must be a number of operations a second (0: closed loop)');
if (!(PUBLISH_RATIO >= 0 && PUBLISH_RATIO <= 1)) fail('--publish-ratio must be between 0 and 1');
if (!existsSync(path.join(root, 'cli', 'dist', 'index.js'))) fail('registry-core is not built: pnpm install (at the repository root)');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pick = (list) => list[Math.floor(Math.random() * list.length)];
const hex = (algorithm, bytes) => createHash(algorithm).update(bytes).digest('hex');

// ---------------------------------------------------------------- servers

/** registry-core on its embedded defaults (SQLite + fs) in a folder of its own; resolves once it listens. */
async function startRegistryCore(label, repositories, { probe = false } = {}) {
  const dir = temp(label);
  const config = path.join(dir, 'registry-core.config.yaml');
  writeFileSync(config, `dataDir: ./registry-data\nlogging: { level: warn, format: json }\n${probe && SERVER_CONFIG ? `${SERVER_CONFIG}\n` : ''}repositories:\n${repositories}`);
  const heapFile = path.join(dir, 'heap.json');
  const nodeArgs = probe ? ['--require', heapProbe, ...SERVER_NODE_ARGS] : [];
  const env = probe ? { ...process.env, SOAK_HEAP_FILE: heapFile } : process.env;
  const server = await spawnServer(process.execPath, [...nodeArgs, cli, 'start', '--port', '0', '--config', config], { cwd: dir, env }, (out) => {
    const port = /registry-core \S+ listening on port (\d+)/.exec(out)?.[1];
    return port ? Number(port) : undefined;
  });
  const run = (argv) => execFileSync(process.execPath, [cli, ...argv, '--config', config], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  run(['user', 'add', USER, '--password', PASSWORD]);
  const token = run(['token', 'create', '--user', USER, '--description', 'soak']).trim().split('\n').pop().trim();
  return { ...server, dir, heapFile, url: `http://127.0.0.1:${server.value}`, token };
}

// ---------------------------------------------------------------- HTTP

/**
 * One request over `agent`; resolves { status, headers, body } (the body read whole: every
 * file here is small). Network errors and timeouts reject.
 */
function send(agent, method, url, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, agent, headers: body === undefined ? headers : { 'content-length': Buffer.byteLength(body), ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(TIMEOUT_MS, () => req.destroy(new Error(`no answer in ${TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** A check that failed: an unexpected status or body. */
class Unexpected extends Error {}

/** Throws {@link Unexpected} unless the answer has one of `statuses`. */
function expectStatus(answer, statuses, what) {
  if (!statuses.includes(answer.status)) {
    const text = answer.body.toString('utf8', 0, 300).replace(/\s+/g, ' ');
    throw new Unexpected(`${what}: ${answer.status} (expected ${statuses.join('/')})${text ? `: ${text}` : ''}`);
  }
  return answer;
}

function expectDigest(answer, algorithm, digest, what) {
  const got = hex(algorithm, answer.body);
  if (got !== digest) throw new Unexpected(`${what}: body's ${algorithm} is ${got}, expected ${digest} (${answer.body.length} bytes)`);
}

const basic = (token) => `Basic ${Buffer.from(`__token__:${token}`).toString('base64')}`;

// ---------------------------------------------------------------- the formats
//
// Each format has `publish(ctx, repository, item)` that stores a new version and returns the
// pool entry readers use, and read operations `(ctx, repository, item) => answer checks`.
// `ctx` = { agent, base, token, auth } where `auth` says whether reads carry credentials.

const NPM_FULL = 'application/json';
const NPM_ABBREVIATED = 'application/vnd.npm.install-v1+json';

const npm = {
  name: 'npm',
  /** A new version of package `name`: the tarball and the body `npm publish` sends. */
  build(name, version) {
    const manifest = { name, version, description: `soak ${name}`, main: 'index.js' };
    const tarball = gzipSync(tar({ 'package/package.json': JSON.stringify(manifest, null, 2), 'package/index.js': `module.exports = ${JSON.stringify(randomBytes(48).toString('hex'))};\n` }));
    const base = name.startsWith('@') ? name.split('/')[1] : name;
    const file = `${base}-${version}.tgz`;
    const body = JSON.stringify({
      _id: name,
      name,
      'dist-tags': { latest: version },
      versions: { [version]: { ...manifest, _id: `${name}@${version}`, dist: { shasum: hex('sha1', tarball), integrity: `sha512-${createHash('sha512').update(tarball).digest('base64')}`, tarball: `http://example.invalid/${name}/-/${file}` } } },
      access: 'public',
      _attachments: { [file]: { content_type: 'application/octet-stream', data: tarball.toString('base64'), length: tarball.length } },
    });
    return { body, item: { name, version, tarballPath: `${name}/-/${file}`, sha1: hex('sha1', tarball) } };
  },
  encoded: (name) => name.replace('/', '%2f'),
  async publish(ctx, repository, name, version) {
    const { body, item } = npm.build(name, version);
    const answer = await send(ctx.agent, 'PUT', `${ctx.base}/${repository}/${npm.encoded(name)}`, { headers: { 'content-type': 'application/json', authorization: `Bearer ${ctx.token}` }, body });
    expectStatus(answer, [200, 201], `npm publish ${name}@${version} to ${repository}`);
    return item;
  },
  readAuth: (ctx) => (ctx.auth ? { authorization: `Bearer ${ctx.token}` } : {}),
  reads: {
    async packument(ctx, repository, item) {
      const accept = Math.random() < 0.5 ? NPM_FULL : NPM_ABBREVIATED;
      const what = `npm packument ${accept === NPM_FULL ? 'full' : 'abbreviated'} ${item.name} from ${repository}`;
      const answer = expectStatus(await send(ctx.agent, 'GET', `${ctx.base}/${repository}/${npm.encoded(item.name)}`, { headers: { accept, ...npm.readAuth(ctx) } }), [200], what);
      const doc = JSON.parse(answer.body.toString('utf8'));
      if (doc.name !== item.name || !doc.versions?.[item.version]) throw new Unexpected(`${what}: version ${item.version} is missing`);
      if (doc.versions[item.version].dist?.shasum !== item.sha1) throw new Unexpected(`${what}: version ${item.version} has shasum ${doc.versions[item.version].dist?.shasum}, published ${item.sha1}`);
    },
    async tarball(ctx, repository, item) {
      const what = `npm tarball ${item.tarballPath} from ${repository}`;
      const answer = expectStatus(await send(ctx.agent, 'GET', `${ctx.base}/${repository}/${item.tarballPath}`, { headers: npm.readAuth(ctx) }), [200], what);
      expectDigest(answer, 'sha1', item.sha1, what);
    },
  },
  /** What the group and hosted answer for a package after all publishes: every version. */
  async versions(ctx, repository, name) {
    const answer = expectStatus(await send(ctx.agent, 'GET', `${ctx.base}/${repository}/${npm.encoded(name)}`, { headers: { accept: NPM_ABBREVIATED } }), [200], `npm packument ${name} from ${repository}`);
    return Object.keys(JSON.parse(answer.body.toString('utf8')).versions ?? {});
  },
};

const PYPI_JSON = 'application/vnd.pypi.simple.v1+json';
const pypi = {
  name: 'pypi',
  build(name, version) {
    const dist = name.replace(/[-_.]+/g, '_');
    const info = `${dist}-${version}.dist-info`;
    const wheel = storedZip([
      [`${dist}.py`, Buffer.from(`CONTENT = "${randomBytes(48).toString('hex')}"\n`)],
      [`${info}/METADATA`, Buffer.from(`Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\nSummary: soak ${name}\n`)],
      [`${info}/WHEEL`, Buffer.from('Wheel-Version: 1.0\nGenerator: registry-core-soak\nRoot-Is-Purelib: true\nTag: py3-none-any\n')],
      [`${info}/RECORD`, Buffer.from('')],
    ]);
    return { wheel, file: `${dist}-${version}-py3-none-any.whl` };
  },
  async publish(ctx, repository, name, version) {
    const { wheel, file } = pypi.build(name, version);
    const form = new FormData();
    for (const [k, v] of [[':action', 'file_upload'], ['protocol_version', '1'], ['name', name], ['version', version], ['filetype', 'bdist_wheel'], ['pyversion', 'py3'], ['metadata_version', '2.1'], ['sha256_digest', hex('sha256', wheel)], ['md5_digest', hex('md5', wheel)]]) form.set(k, v);
    form.set('content', new Blob([wheel], { type: 'application/octet-stream' }), file);
    // The multipart body as fetch would send it, sent here over the soak's own connection.
    const encoded = new Request('http://localhost/', { method: 'POST', body: form });
    const body = Buffer.from(await encoded.arrayBuffer());
    const answer = await send(ctx.agent, 'POST', `${ctx.base}/${repository}/`, { headers: { 'content-type': encoded.headers.get('content-type'), authorization: basic(ctx.token) }, body });
    expectStatus(answer, [200], `pypi upload ${file} to ${repository}`);
    return { name, version, file, sha256: hex('sha256', wheel) };
  },
  readAuth: (ctx) => (ctx.auth ? { authorization: basic(ctx.token) } : {}),
  reads: {
    async index(ctx, repository, item) {
      // A proxy does not mirror its upstream's project list: the group's and hosted ones only.
      if (repository.endsWith('-proxy')) return pypi.reads.page(ctx, repository, item);
      const what = `pypi simple/ of ${repository}`;
      const answer = expectStatus(await send(ctx.agent, 'GET', `${ctx.base}/${repository}/simple/`, { headers: pypi.readAuth(ctx) }), [200], what);
      // The group lists its hosted members' projects (not the proxy's upstream's).
      if (!item.upstream && !answer.body.includes(`href="${item.name}/"`)) throw new Unexpected(`${what}: ${item.name} is not listed`);
    },
    async page(ctx, repository, item) {
      const json = Math.random() < 0.5;
      const what = `pypi simple/${item.name}/ (${json ? 'JSON' : 'HTML'}) from ${repository}`;
      const answer = expectStatus(await send(ctx.agent, 'GET', `${ctx.base}/${repository}/simple/${item.name}/`, { headers: { accept: json ? PYPI_JSON : 'text/html', ...pypi.readAuth(ctx) } }), [200], what);
      if (json) {
        const file = JSON.parse(answer.body.toString('utf8')).files?.find((f) => f.filename === item.file);
        if (!file) throw new Unexpected(`${what}: ${item.file} is not listed`);
        if (file.hashes?.sha256 !== item.sha256) throw new Unexpected(`${what}: ${item.file} listed with sha256 ${file.hashes?.sha256}, uploaded ${item.sha256}`);
      } else if (!answer.body.includes(`${item.file}#sha256=${item.sha256}`)) throw new Unexpected(`${what}: no link to ${item.file}#sha256=${item.sha256}`);
    },
    async file(ctx, repository, item) {
      const what = `pypi file ${item.file} from ${repository}`;
      const answer = expectStatus(await send(ctx.agent, 'GET', `${ctx.base}/${repository}/packages/${item.name}/${item.file}`, { headers: pypi.readAuth(ctx) }), [200], what);
      expectDigest(answer, 'sha256', item.sha256, what);
    },
    async metadata(ctx, repository, item) {
      const what = `pypi ${item.file}.metadata from ${repository}`;
      const answer = expectStatus(await send(ctx.agent, 'GET', `${ctx.base}/${repository}/packages/${item.name}/${item.file}.metadata`, { headers: pypi.readAuth(ctx) }), [200], what);
      if (!answer.body.includes(`Version: ${item.version}`)) throw new Unexpected(`${what}: no Version: ${item.version}`);
    },
  },
  async versions(ctx, repository, name) {
    const answer = expectStatus(await send(ctx.agent, 'GET', `${ctx.base}/${repository}/simple/${name}/`, { headers: { accept: PYPI_JSON } }), [200], `pypi simple/${name}/ from ${repository}`);
    return JSON.parse(answer.body.toString('utf8')).versions ?? [];
  },
};

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_ACCEPT = [OCI_MANIFEST, 'application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.docker.distribution.manifest.list.v2+json'].join(', ');
const oci = {
  name: 'oci',
  /** The image's API root: `/v2/<repository>/<name>`, or `/v2/<name>` at a registry's host root (repository ''). */
  v2: (ctx, repository, name) => `${ctx.base}/v2/${repository ? `${repository}/` : ''}${name}`,
  /** An image of one layer: its blobs by digest and its manifest. */
  build(name, tag) {
    const layer = gzipSync(tar({ [`soak/${tag}.bin`]: randomBytes(2048) }));
    const layerDigest = `sha256:${hex('sha256', layer)}`;
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layerDigest] }, config: { Labels: { soak: `${name}:${tag}` } } }));
    const configDigest = `sha256:${hex('sha256', config)}`;
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.length }] }));
    return { layer, layerDigest, config, configDigest, manifest, manifestDigest: `sha256:${hex('sha256', manifest)}` };
  },
  /** Push as clients do: the layer in a chunked upload (POST, PATCH, PUT), the config in one POST, then the manifest. */
  async publish(ctx, repository, name, tag) {
    const image = oci.build(name, tag);
    const auth = { authorization: basic(ctx.token) };
    const v2 = oci.v2(ctx, repository, name);
    const what = `oci push ${name}:${tag} to ${repository}`;
    const started = expectStatus(await send(ctx.agent, 'POST', `${v2}/blobs/uploads/`, { headers: auth, body: '' }), [202], `${what}: POST blobs/uploads/`);
    let location = new URL(started.headers.location, `${v2}/`).toString();
    const half = image.layer.length >> 1;
    for (const [from, to] of [[0, half], [half, image.layer.length]]) {
      const chunk = image.layer.subarray(from, to);
      const patched = expectStatus(await send(ctx.agent, 'PATCH', location, { headers: { ...auth, 'content-type': 'application/octet-stream', 'content-range': `${from}-${to - 1}` }, body: chunk }), [202], `${what}: PATCH a chunk`);
      location = new URL(patched.headers.location, location).toString();
    }
    const closing = new URL(location);
    closing.searchParams.set('digest', image.layerDigest);
    expectStatus(await send(ctx.agent, 'PUT', closing.toString(), { headers: auth, body: '' }), [201], `${what}: PUT to close the upload`);
    expectStatus(await send(ctx.agent, 'POST', `${v2}/blobs/uploads/?digest=${image.configDigest}`, { headers: { ...auth, 'content-type': 'application/octet-stream' }, body: image.config }), [201], `${what}: POST the config`);
    const put = expectStatus(await send(ctx.agent, 'PUT', `${v2}/manifests/${tag}`, { headers: { ...auth, 'content-type': OCI_MANIFEST }, body: image.manifest }), [201], `${what}: PUT the manifest`);
    if (put.headers['docker-content-digest'] !== image.manifestDigest) throw new Unexpected(`${what}: manifest stored as ${put.headers['docker-content-digest']}, sent ${image.manifestDigest}`);
    return { name, version: tag, manifestDigest: image.manifestDigest, blobs: [[image.layerDigest, image.layer.length], [image.configDigest, image.config.length]] };
  },
  readAuth: (ctx) => (ctx.auth ? { authorization: basic(ctx.token) } : {}),
  reads: {
    async manifest(ctx, repository, item) {
      const byDigest = Math.random() < 0.3;
      const head = Math.random() < 0.3;
      const reference = byDigest ? item.manifestDigest : item.version;
      const what = `oci ${head ? 'HEAD' : 'GET'} manifest ${item.name}:${reference} from ${repository}`;
      const answer = expectStatus(await send(ctx.agent, head ? 'HEAD' : 'GET', `${oci.v2(ctx, repository, item.name)}/manifests/${reference}`, { headers: { accept: OCI_ACCEPT, ...oci.readAuth(ctx) } }), [200], what);
      if (answer.headers['docker-content-digest'] !== item.manifestDigest) throw new Unexpected(`${what}: Docker-Content-Digest ${answer.headers['docker-content-digest']}, pushed ${item.manifestDigest}`);
      if (!head) expectDigest(answer, 'sha256', item.manifestDigest.slice(7), what);
    },
    async blob(ctx, repository, item) {
      const [digest, size] = pick(item.blobs);
      const head = Math.random() < 0.3;
      const what = `oci ${head ? 'HEAD' : 'GET'} blob ${item.name}@${digest} from ${repository}`;
      const answer = expectStatus(await send(ctx.agent, head ? 'HEAD' : 'GET', `${oci.v2(ctx, repository, item.name)}/blobs/${digest}`, { headers: oci.readAuth(ctx) }), [200], what);
      if (head && Number(answer.headers['content-length']) !== size) throw new Unexpected(`${what}: Content-Length ${answer.headers['content-length']}, pushed ${size}`);
      if (!head) expectDigest(answer, 'sha256', digest.slice(7), what);
    },
    async tags(ctx, repository, item) {
      const what = `oci tags/list of ${item.name} from ${repository}`;
      const answer = expectStatus(await send(ctx.agent, 'GET', `${oci.v2(ctx, repository, item.name)}/tags/list`, { headers: oci.readAuth(ctx) }), [200], what);
      if (!JSON.parse(answer.body.toString('utf8')).tags?.includes(item.version)) throw new Unexpected(`${what}: tag ${item.version} is missing`);
    },
  },
  async versions(ctx, repository, name) {
    const answer = expectStatus(await send(ctx.agent, 'GET', `${oci.v2(ctx, repository, name)}/tags/list`), [200], `oci tags/list of ${name} from ${repository}`);
    return JSON.parse(answer.body.toString('utf8')).tags ?? [];
  },
};

const MAVEN_GROUP = 'com.example.soak';
const maven = {
  name: 'maven',
  folder: (artifactId) => `${MAVEN_GROUP.replace(/\./g, '/')}/${artifactId}/`,
  file: (artifactId, version, extension) => `${maven.folder(artifactId)}${version}/${artifactId}-${version}.${extension}`,
  metadata(artifactId, versions) {
    const latest = versions[versions.length - 1];
    return `<?xml version="1.0" encoding="UTF-8"?>\n<metadata><groupId>${MAVEN_GROUP}</groupId><artifactId>${artifactId}</artifactId><versioning><latest>${latest}</latest><release>${latest}</release><versions>${versions.map((v) => `<version>${v}</version>`).join('')}</versions><lastUpdated>20260101000000</lastUpdated></versioning></metadata>\n`;
  },
  /** `mvn deploy`: jar, pom, each with .sha1 and .md5, then maven-metadata.xml listing every version deployed so far, with its own. */
  async publish(ctx, repository, artifactId, version, allVersions) {
    const jar = storedZip([
      ['META-INF/MANIFEST.MF', Buffer.from('Manifest-Version: 1.0\r\nCreated-By: registry-core soak\r\n\r\n')],
      ['soak.txt', randomBytes(512)],
    ]);
    const pom = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion><groupId>${MAVEN_GROUP}</groupId><artifactId>${artifactId}</artifactId><version>${version}</version><packaging>jar</packaging></project>\n`);
    const metadata = Buffer.from(maven.metadata(artifactId, allVersions));
    const auth = { authorization: basic(ctx.token) };
    const steps = [];
    for (const [target, bytes, type] of [[maven.file(artifactId, version, 'jar'), jar, 'application/java-archive'], [maven.file(artifactId, version, 'pom'), pom, 'text/xml'], [`${maven.folder(artifactId)}maven-metadata.xml`, metadata, 'text/xml']]) {
      steps.push([target, bytes, type], [`${target}.sha1`, Buffer.from(hex('sha1', bytes)), 'text/plain'], [`${target}.md5`, Buffer.from(hex('md5', bytes)), 'text/plain']);
    }
    for (const [target, body, type] of steps) {
      expectStatus(await send(ctx.agent, 'PUT', `${ctx.base}/${repository}/${target}`, { headers: { ...auth, 'content-type': type }, body }), [200, 201], `maven deploy ${target} to ${repository}`);
    }
    return { name: artifactId, version, jarSha1: hex('sha1', jar), pomSha1: hex('sha1', pom) };
  },
  readAuth: (ctx) => (ctx.auth ? { authorization: basic(ctx.token) } : {}),
  reads: {
    async file(ctx, repository, item) {
      const jar = Math.random() < 0.5;
      const target = maven.file(item.name, item.version, jar ? 'jar' : 'pom');
      const what = `maven ${target} from ${repository}`;
      const answer = expectStatus(await send(ctx.agent, 'GET', `${ctx.base}/${repository}/${target}`, { headers: maven.readAuth(ctx) }), [200], what);
      expectDigest(answer, 'sha1', jar ? item.jarSha1 : item.pomSha1, what);
    },
    async checksum(ctx, repository, item) {
      const jar = Math.random() < 0.5;
      const algorithm = Math.random() < 0.5 ? 'sha1' : 'md5';
      const target = `${maven.file(item.name, item.version, jar ? 'jar' : 'pom')}.${algorithm}`;
      const what = `maven ${target} from ${repository}`;
      const answer = expectStatus(await send(ctx.agent, 'GET', `${ctx.base}/${repository}/${target}`, { headers: maven.readAuth(ctx) }), [200], what);
      const text = answer.body.toString('utf8').trim().split(/\s/)[0];
      if (algorithm === 'sha1' && text !== (jar ? item.jarSha1 : item.pomSha1)) throw new Unexpected(`${what}: ${text}, deployed ${jar ? item.jarSha1 : item.pomSha1}`);
      if (!/^[0-9a-f]{32}$/.test(text) && algorithm === 'md5') throw new Unexpected(`${what}: not an md5: ${text.slice(0, 80)}`);
    },
    async metadata(ctx, repository, item) {
      const sidecar = Math.random() < 0.3;
      const target = `${maven.folder(item.name)}maven-metadata.xml${sidecar ? '.sha1' : ''}`;
      const what = `maven ${target} from ${repository}`;
      const answer = expectStatus(await send(ctx.agent, 'GET', `${ctx.base}/${repository}/${target}`, { headers: maven.readAuth(ctx) }), [200], what);
      if (sidecar ? !/^[0-9a-f]{40}\b/.test(answer.body.toString('utf8').trim()) : !answer.body.includes(`<version>${item.version}</version>`)) throw new Unexpected(`${what}: ${sidecar ? 'not a sha1' : `version ${item.version} is not listed`}: ${answer.body.toString('utf8', 0, 200)}`);
    },
  },
  async versions(ctx, repository, artifactId) {
    const answer = expectStatus(await send(ctx.agent, 'GET', `${ctx.base}/${repository}/${maven.folder(artifactId)}maven-metadata.xml`), [200], `maven metadata of ${artifactId} from ${repository}`);
    return [...answer.body.toString('utf8').matchAll(/<version>\s*([^<]*?)\s*<\/version>/g)].map((m) => m[1]);
  },
};

const FORMATS = [npm, pypi, oci, maven];

/** Names: upstream seeds (read through proxy and group), hosted seeds, and one package per worker for its publishes. */
const names = {
  npm: { up: (i) => (i % 2 ? `soak-up-${i}` : `@soak/up-${i}`), local: (i) => (i % 2 ? `soak-local-${i}` : `@soak/local-${i}`), worker: (w) => `soak-pub-w${w}` },
  pypi: { up: (i) => `soak-up-${i}`, local: (i) => `soak-local-${i}`, worker: (w) => `soak-pub-w${w}` },
  oci: { up: (i) => `soak/up-${i}`, local: (i) => `soak/local-${i}`, worker: (w) => `soak/pub-w${w}` },
  maven: { up: (i) => `up-${i}`, local: (i) => `local-${i}`, worker: (w) => `pub-w${w}` },
};

// ---------------------------------------------------------------- statistics

const started = Date.now();
const stats = new Map(); // kind → { ops, errors, latencies: number[] }
const byRepository = new Map(); // hosted / proxy / group → { ops, latencies }
const errorSamples = new Map(); // message shape → { count, example }
let totalOps = 0;
let totalErrors = 0;
/** performance.now() when the load started; operations after it are counted per minute too. */
let loadStartedPerf = Infinity;
let loadOver = false;
const perMinute = []; // minute of the load → { ops, errors, latencies: number[] }

function record(kind, repositoryType, ms, error) {
  if (!loadOver && performance.now() >= loadStartedPerf) {
    const m = Math.floor((performance.now() - loadStartedPerf) / 60_000);
    const pm = perMinute[m] ?? (perMinute[m] = { ops: 0, errors: 0, latencies: [] });
    pm.ops++;
    pm.latencies.push(ms);
    if (error) pm.errors++;
  }
  const s = stats.get(kind) ?? stats.set(kind, { ops: 0, errors: 0, latencies: [] }).get(kind);
  s.ops++;
  s.latencies.push(ms);
  totalOps++;
  const r = byRepository.get(repositoryType) ?? byRepository.set(repositoryType, { ops: 0, latencies: [] }).get(repositoryType);
  r.ops++;
  r.latencies.push(ms);
  if (!error) return;
  s.errors++;
  totalErrors++;
  const message = error instanceof Unexpected ? error.message : `${kind} (${repositoryType}): ${error.code ?? ''} ${error.message}`;
  // Group errors by their shape (digits and digests blurred) so one cause counts once.
  const shape = message.replace(/[0-9a-f]{16,}/g, '…').replace(/\d+/g, 'N').slice(0, 160);
  const sample = errorSamples.get(shape) ?? errorSamples.set(shape, { count: 0, example: message }).get(shape);
  sample.count++;
}

/** Runs `fn` and records it; `t0` (performance.now()) is the scheduled time in the open loop. */
async function timed(kind, repositoryType, fn, t0 = performance.now()) {
  try {
    await fn();
    record(kind, repositoryType, performance.now() - t0);
  } catch (error) {
    record(kind, repositoryType, performance.now() - t0, error);
  }
}

const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] : NaN);

// ---------------------------------------------------------------- main

const repositoryType = (repository) => (repository.endsWith('-proxy') ? 'proxy' : repository.endsWith('-local') ? 'hosted' : 'group');

console.log(`registry-core soak, ${new Date().toISOString()}, Node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}); ${DURATION} s, ${CONNECTIONS} connections, publish ratio ${PUBLISH_RATIO}, ${RATE ? `open loop at ${RATE} operations/s` : 'closed loop'}`);

let exitCode = 0;
try {
  // The upstream: hosted repositories only, OCI on a port of its own (a registry at its host root).
  const up = await startRegistryCore(
    'soak-upstream',
    `  npm-up: { format: npm, type: hosted }\n  pypi-up: { format: pypi, type: hosted }\n  maven-up: { format: maven, type: hosted }\n  oci-up: { format: oci, type: hosted, port: 0 }\n`,
  );
  // The banner's "point clients at" line: `  oci-up  http://127.0.0.1:PORT/  (oci hosted)`.
  const ociPort = Number(/^\s+oci-up\s+http:\/\/127\.0\.0\.1:(\d+)\//m.exec(up.output())?.[1]);
  if (!ociPort) throw new Error(`the upstream's OCI port is not in its banner:\n${up.output()}`);

  const proxyCache = 'cache: { metadataTtl: 30 }';
  const server = await startRegistryCore(
    'soak-server',
    [
      `  npm-local: { format: npm, type: hosted }`,
      `  npm-proxy: { format: npm, type: proxy, upstream: "${up.url}/npm-up/", ${proxyCache} }`,
      `  npm: { format: npm, type: group, members: [npm-local, npm-proxy] }`,
      `  pypi-local: { format: pypi, type: hosted }`,
      `  pypi-proxy: { format: pypi, type: proxy, upstream: "${up.url}/pypi-up/simple/", ${proxyCache} }`,
      `  pypi: { format: pypi, type: group, members: [pypi-local, pypi-proxy] }`,
      `  oci-local: { format: oci, type: hosted }`,
      `  oci-proxy: { format: oci, type: proxy, upstream: "http://127.0.0.1:${ociPort}/", ${proxyCache} }`,
      `  oci: { format: oci, type: group, members: [oci-local, oci-proxy] }`,
      `  maven-local: { format: maven, type: hosted }`,
      `  maven-proxy: { format: maven, type: proxy, upstream: "${up.url}/maven-up/", ${proxyCache} }`,
      `  maven: { format: maven, type: group, members: [maven-local, maven-proxy] }`,
      '',
    ].join('\n'),
    { probe: true },
  );

  // Seed: SEEDS packages of SEED_VERSIONS versions per format upstream and in the hosted
  // repositories. pools[format].up: read through the proxy and the group; .local: through
  // the hosted repository and the group (publishes add there).
  const seedAgent = new Agent({ keepAlive: true, maxSockets: 8 });
  const pools = Object.fromEntries(FORMATS.map((f) => [f.name, { up: [], local: [] }]));
  const seedStarted = performance.now();
  for (const format of FORMATS) {
    for (const side of ['up', 'local']) {
      const ctx = { agent: seedAgent, base: side === 'up' ? up.url : server.url, token: side === 'up' ? up.token : server.token };
      // The upstream's OCI repository is at its own port's root: no repository segment.
      if (format === oci && side === 'up') ctx.base = `http://127.0.0.1:${ociPort}`;
      const repository = format === oci && side === 'up' ? '' : `${format.name}-${side}`;
      await Promise.all(
        Array.from({ length: SEEDS }, async (_, i) => {
          const name = names[format.name][side](i);
          const versions = [];
          for (let v = 0; v < SEED_VERSIONS; v++) {
            const version = format === oci ? `v${v}` : `1.0.${v}`;
            versions.push(version);
            const item = await format.publish(ctx, repository, name, version, [...versions]);
            pools[format.name][side].push({ ...item, upstream: side === 'up' });
          }
        }),
      );
    }
  }
  seedAgent.destroy();
  console.log(`seeded ${SEEDS} packages of ${SEED_VERSIONS} versions per format upstream and in the hosted repositories in ${fmt((performance.now() - seedStarted) / 1000, 1)} s; server pid ${server.pid}`);

  // The load.
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const published = new Map(); // `${format}:${name}` → versions published by its worker
  const end = Date.now() + DURATION * 1000;
  const READS = FORMATS.flatMap((format) => Object.entries(format.reads).map(([op, fn]) => ({ format, op, fn })));

  // The open loop's schedule: operation i is due at loadStartedPerf + i / RATE s; due ones
  // wait in `due` for a free connection (the pool of CONNECTIONS workers).
  const due = [];
  const idle = [];
  let scheduledOps = 0;
  let backlogMax = 0;
  const schedule = () => {
    const target = Math.floor(((Math.min(Date.now(), end) - loadStarted) / 1000) * RATE);
    while (scheduledOps < target) {
      due.push(loadStartedPerf + (scheduledOps * 1000) / RATE);
      scheduledOps++;
      idle.shift()?.();
    }
    backlogMax = Math.max(backlogMax, due.length);
  };

  async function worker(w) {
    const ctx = { agent, base: server.url, token: server.token, auth: false };
    const counters = Object.fromEntries(FORMATS.map((f) => [f.name, 0]));
    if (!RATE) {
      while (Date.now() < end) await operation(w, ctx, counters);
      return;
    }
    for (;;) {
      while (!due.length && Date.now() < end) await new Promise((resolve) => idle.push(resolve));
      if (!due.length) return;
      await operation(w, ctx, counters, due.shift());
    }
  }

  /** One operation (a publish and its read-after-write, or a read); `at`: when it was due. */
  async function operation(w, ctx, counters, at) {
    {
      ctx.auth = Math.random() < 0.5;
      if (Math.random() < PUBLISH_RATIO) {
        const format = pick(FORMATS);
        const name = names[format.name].worker(w);
        const n = counters[format.name]++;
        const version = format === oci ? `v${n}` : `1.0.${n}`;
        const key = `${format.name}:${name}`;
        const versions = published.get(key) ?? published.set(key, []).get(key);
        // Half the publishes go through the group (to its hosted member), as clients pointed at the group do.
        const repository = Math.random() < 0.5 ? format.name : `${format.name}-local`;
        let item;
        await timed(
          `${format.name} publish`,
          repositoryType(repository),
          async () => {
            item = await format.publish(ctx, repository, name, version, [...versions, version]);
          },
          at,
        );
        if (!item) return;
        versions.push(version);
        pools[format.name].local.push(item);
        // Read-after-write: the new version is served at once, through the group.
        const read = pick(Object.values(format.reads));
        await timed(`${format.name} read-after-publish`, 'group', () => read(ctx, format.name, item));
      } else {
        // Each repository type as often: hosted (its packages), proxy (the upstream's), group (either).
        const { format, op, fn } = pick(READS);
        const type = pick(['hosted', 'proxy', 'group']);
        const side = type === 'hosted' ? 'local' : type === 'proxy' ? 'up' : pick(['up', 'local']);
        const repository = type === 'group' ? format.name : `${format.name}-${type === 'hosted' ? 'local' : 'proxy'}`;
        const item = pick(pools[format.name][side]);
        await timed(`${format.name} ${op}`, type, () => fn(ctx, repository, item), at);
      }
    }
  }

  // The curve: every SAMPLE_SECONDS, RSS and heap of the server, operations per second, errors.
  const samples = [];
  const statsAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  let caches;
  let lastOps = 0;
  let lastAt = Date.now();
  const heap = () => {
    try {
      return JSON.parse(readFileSync(server.heapFile, 'utf8'));
    } catch {
      return undefined;
    }
  };
  const sample = () => {
    const now = Date.now();
    const m = memory(server.pid);
    const h = heap();
    const c = caches;
    const s = {
      t: (now - loadStarted) / 1000,
      rss: m?.rssMb ?? NaN,
      heapUsed: h ? h.heapUsed / 1024 ** 2 : NaN,
      heapTotal: h ? h.heapTotal / 1024 ** 2 : NaN,
      external: h ? h.external / 1024 ** 2 : NaN,
      arrayBuffers: h ? h.arrayBuffers / 1024 ** 2 : NaN,
      newSpace: h?.spaces?.new_space ? h.spaces.new_space.size / 1024 ** 2 : NaN,
      oldSpace: h?.spaces?.old_space ? h.spaces.old_space.size / 1024 ** 2 : NaN,
      oldUsed: h?.spaces?.old_space ? h.spaces.old_space.used / 1024 ** 2 : NaN,
      gc: h?.gc ?? {},
      gcWhy: h?.gcWhy ?? {},
      backlog: due.length,
      // The caches' own byte counters (GET /-/stats): what their budgets count.
      blobCache: c?.caches?.blobs ? c.caches.blobs.bytes / 1024 ** 2 : NaN,
      derivedCache: c?.derived ? c.derived.bytes / 1024 ** 2 : NaN,
      contentRows: c?.caches?.contentRows ?? NaN,
      opsPerSecond: now > lastAt ? ((totalOps - lastOps) * 1000) / (now - lastAt) : 0,
      errors: totalErrors,
    };
    // The next sample's cache counters (asked now, read then: the sampler never waits).
    send(statsAgent, 'GET', `${server.url}/-/stats`).then(
      (r) => (caches = JSON.parse(r.body.toString('utf8'))),
      () => undefined,
    );
    lastOps = totalOps;
    lastAt = now;
    samples.push(s);
    console.log(`${fmt(s.t).padStart(5)} s  RSS ${fmt(s.rss, 1).padStart(6)} MB  heap ${fmt(s.heapUsed, 1).padStart(6)} / ${fmt(s.heapTotal, 1).padStart(6)} MB  external ${fmt(s.external, 1).padStart(5)} MB (array buffers ${fmt(s.arrayBuffers, 1).padStart(5)})  caches: blobs ${fmt(s.blobCache, 1).padStart(5)} MB, derived ${fmt(s.derivedCache, 1).padStart(5)} MB, ${fmt(s.contentRows).padStart(6)} rows  ${fmt(s.opsPerSecond).padStart(5)} ops/s  errors ${s.errors}`);
  };
  const loadStarted = Date.now();
  loadStartedPerf = performance.now();
  lastAt = loadStarted;
  console.log(`\n    t  server memory (VmRSS; V8 heap used / total; external)         throughput  errors`);
  sample();
  const sampler = setInterval(sample, SAMPLE_SECONDS * 1000);
  const scheduler = RATE ? setInterval(schedule, 5) : undefined;
  // At the end, idle workers are woken to see that nothing more is due.
  const wake = RATE ? setTimeout(() => idle.splice(0).forEach((resolve) => resolve()), end - Date.now() + 10) : undefined;
  await Promise.all(Array.from({ length: CONNECTIONS }, (_, w) => worker(w)));
  loadOver = true;
  clearInterval(sampler);
  clearInterval(scheduler);
  clearTimeout(wake);
  sample();
  statsAgent.destroy();
  const loadSeconds = (Date.now() - loadStarted) / 1000;

  // After the load: every version each worker published is listed by the hosted repository and the group.
  const checkCtx = { agent, base: server.url, token: server.token };
  let missing = 0;
  for (const [key, versions] of published) {
    const [formatName, name] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
    const format = FORMATS.find((f) => f.name === formatName);
    for (const repository of [`${formatName}-local`, formatName]) {
      await timed(`${formatName} final listing`, repositoryType(repository), async () => {
        const listed = new Set(await format.versions(checkCtx, repository, name));
        const absent = versions.filter((v) => !listed.has(v));
        missing += absent.length;
        if (absent.length) throw new Unexpected(`${formatName} ${name} in ${repository}: published ${versions.length} versions, ${absent.length} not listed (${absent.slice(0, 5).join(', ')})`);
      });
    }
  }
  const health = await send(agent, 'GET', `${server.url}/-/health`).catch((error) => ({ status: 0, body: Buffer.from(String(error)) }));
  const proxyStats = await send(agent, 'GET', `${server.url}/-/stats`).then((r) => JSON.parse(r.body.toString('utf8')).repositories ?? {}, () => ({}));
  const upstreamErrors = Object.values(proxyStats).reduce((sum, r) => sum + (r.upstreamErrors ?? 0), 0);
  agent.destroy();
  const serverErrors = server
    .output()
    .split('\n')
    .filter((line) => /"level":\s*(?:"(?:error|fatal)"|5\d|6\d)/.test(line));

  // ---------------------------------------------------------------- report
  const minute = (from, to) => samples.filter((s) => s.t >= from && s.t <= to);
  const window = Math.min(60, loadSeconds / 5);
  const firstWindow = minute(0, window);
  const afterWarmup = minute(window, Infinity);
  const lastWindow = minute(loadSeconds - window, Infinity);
  const med = (list, field) => median(list.map((s) => s[field]).filter(Number.isFinite));
  const warmMedian = med(afterWarmup, 'rss');
  const lastMedian = med(lastWindow, 'rss');
  const growth = (lastMedian - warmMedian) / warmMedian;
  // The caches fill towards their budgets (32 MB of blobs by default) over many minutes at a
  // steady rate: memory they hold by design, counted by their own byte counters. The rule
  // judges the RSS growth that their fill does not explain (both windows' medians).
  const cacheBytes = (list) => med(list, 'blobCache') + med(list, 'derivedCache');
  const cacheFill = cacheBytes(lastWindow) - cacheBytes(afterWarmup);
  const unexplained = (lastMedian - warmMedian - (Number.isFinite(cacheFill) ? cacheFill : 0)) / warmMedian;
  const flat = Math.abs(unexplained) <= FLAT_TOLERANCE;

  // A row per window: the samples in it. The lowest heap used is the live heap after a
  // collection (the best sign of a leak); RSS follows the heap V8 has reserved.
  const step = loadSeconds > 240 ? 60 : 15;
  console.log(`\nCurve, a row per ${step} s (every sample above):\n\n| until t (s) | RSS median (MB) | RSS max (MB) | V8 heap used, lowest (MB) | V8 heap total, max (MB) | external, median (MB) | array buffers, median (MB) | blob cache, counted (MB) | derived cache, counted (MB) | content rows | ops/s | errors |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
  const finite = (list, field) => list.map((x) => x[field]).filter(Number.isFinite);
  for (let t = step; t < loadSeconds + step; t += step) {
    const rows = samples.filter((x) => x.t > t - step && x.t <= t + 0.5);
    if (!rows.length) continue;
    const ops = rows.reduce((sum, x) => sum + x.opsPerSecond, 0) / rows.length;
    console.log(`| ${fmt(Math.min(t, rows[rows.length - 1].t))} | ${fmt(med(rows, 'rss'), 1)} | ${fmt(Math.max(...finite(rows, 'rss')), 1)} | ${fmt(Math.min(...finite(rows, 'heapUsed')), 1)} | ${fmt(Math.max(...finite(rows, 'heapTotal')), 1)} | ${fmt(med(rows, 'external'), 1)} | ${fmt(med(rows, 'arrayBuffers'), 1)} | ${fmt(rows[rows.length - 1].blobCache, 1)} | ${fmt(rows[rows.length - 1].derivedCache, 1)} | ${fmt(rows[rows.length - 1].contentRows)} | ${fmt(ops)} | ${rows[rows.length - 1].errors} |`);
  }

  // V8 and its collections per row: the space sizes (what heap total is made of) and the GCs
  // in the row (count and pause; from the server's PerformanceObserver, a --trace-gc summary).
  console.log(`\n| until t (s) | new space, max (MB) | old space size, max (MB) | old space used, lowest (MB) | minor GCs | minor GC ms | major GCs | major GC ms |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
  let gcBefore = samples[0]?.gc ?? {};
  for (let t = step; t < loadSeconds + step; t += step) {
    const rows = samples.filter((x) => x.t > t - step && x.t <= t + 0.5);
    if (!rows.length) continue;
    const gcNow = rows[rows.length - 1].gc;
    const before = gcBefore;
    const d = (kind, field) => (gcNow[kind]?.[field] ?? 0) - (before[kind]?.[field] ?? 0);
    gcBefore = gcNow;
    console.log(`| ${fmt(Math.min(t, rows[rows.length - 1].t))} | ${fmt(Math.max(...finite(rows, 'newSpace')), 1)} | ${fmt(Math.max(...finite(rows, 'oldSpace')), 1)} | ${fmt(Math.min(...finite(rows, 'oldUsed')), 1)} | ${fmt(d('minor', 'count'))} | ${fmt(d('minor', 'ms'))} | ${fmt(d('major', 'count') + d('incremental', 'count'))} | ${fmt(d('major', 'ms') + d('incremental', 'ms'))} |`);
  }

  // Per minute of the load: the rate achieved and the latency (open loop: from the scheduled time).
  console.log(`\n| minute | operations | ops/s achieved | p50 ms | p90 ms | p99 ms | max ms | errors | backlog, max |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
  perMinute.forEach((pm, m) => {
    if (!pm) return;
    const sorted = Float64Array.from(pm.latencies).sort();
    const seconds = Math.max(1, Math.min(60, loadSeconds - m * 60));
    const backlog = Math.max(0, ...finite(samples.filter((x) => x.t > m * 60 && x.t <= (m + 1) * 60), 'backlog'));
    console.log(`| ${m + 1} | ${fmt(pm.ops)} | ${fmt(pm.ops / seconds, 1)} | ${fmt(percentile(sorted, 50), 1)} | ${fmt(percentile(sorted, 90), 1)} | ${fmt(percentile(sorted, 99), 1)} | ${fmt(sorted[sorted.length - 1], 1)} | ${pm.errors} | ${fmt(backlog)} |`);
  });
  const gcAll = samples[samples.length - 1]?.gc ?? {};
  console.log(`server GCs since it started (seeding included): ${Object.entries(gcAll).map(([kind, g]) => `${kind} ${fmt(g.count)} (${fmt(g.ms)} ms)`).join(', ') || 'none seen'}`);
  const gcWhy = samples[samples.length - 1]?.gcWhy ?? {};
  console.log(`server GCs by kind and V8's flags: ${Object.entries(gcWhy).sort((a, b) => b[1] - a[1]).map(([key, n]) => `${key} ${fmt(n)}`).join('; ') || 'none seen'}`);
  if (RATE) console.log(`open loop: ${fmt(scheduledOps)} operations scheduled at ${RATE}/s (each publish adds a read-after-write), backlog at most ${fmt(backlogMax)} waiting for a connection`);

  console.log(`\n| operation | count | errors | p50 ms | p99 ms |\n| --- | ---: | ---: | ---: | ---: |`);
  for (const [kind, s] of [...stats].sort(([a], [b]) => a.localeCompare(b))) {
    const sorted = Float64Array.from(s.latencies).sort();
    console.log(`| ${kind} | ${fmt(s.ops)} | ${s.errors} | ${fmt(percentile(sorted, 50), 1)} | ${fmt(percentile(sorted, 99), 1)} |`);
  }
  console.log(`\n| repository type | count | p50 ms | p99 ms |\n| --- | ---: | ---: | ---: |`);
  for (const [type, r] of [...byRepository].sort(([a], [b]) => a.localeCompare(b))) {
    const sorted = Float64Array.from(r.latencies).sort();
    console.log(`| ${type} | ${fmt(r.ops)} | ${fmt(percentile(sorted, 50), 1)} | ${fmt(percentile(sorted, 99), 1)} |`);
  }
  const publishes = [...stats].filter(([k]) => k.endsWith(' publish')).reduce((sum, [, s]) => sum + s.ops, 0);
  console.log(`\n${fmt(totalOps)} operations in ${fmt(loadSeconds)} s (${fmt(totalOps / loadSeconds)}/s; ${fmt(publishes)} publishes), ${totalErrors} errors; ${missing} published versions missing from the final listings`);
  console.log(`server RSS: first ${fmt(window)} s median ${fmt(med(firstWindow, 'rss'), 1)} MB; after warmup median ${fmt(warmMedian, 1)} MB; last ${fmt(window)} s median ${fmt(lastMedian, 1)} MB (${growth >= 0 ? '+' : ''}${fmt(growth * 100, 1)}%); caches' counted bytes ${fmt(cacheBytes(afterWarmup), 1)} -> ${fmt(cacheBytes(lastWindow), 1)} MB (fill ${fmt(cacheFill, 1)} MB); growth not explained by the caches' fill ${unexplained >= 0 ? '+' : ''}${fmt(unexplained * 100, 1)}%: ${flat ? 'FLAT' : 'NOT FLAT'} (tolerance ${fmt(FLAT_TOLERANCE * 100)}%); peak ${fmt(memory(server.pid)?.peakMb ?? NaN, 1)} MB (VmHWM)`);
  // RSS follows the allocation rate (V8 sizes its heap to it): on a shared machine the
  // throughput can change a lot during a run, and then so does the memory. Shown, not judged.
  console.log(`throughput in the windows compared: after warmup median ${fmt(med(afterWarmup, 'opsPerSecond'))} ops/s; last ${fmt(window)} s median ${fmt(med(lastWindow, 'opsPerSecond'))} ops/s`);
  const lowest = (list) => Math.min(...finite(list, 'heapUsed'));
  console.log(`server V8 heap used: after warmup median ${fmt(med(afterWarmup, 'heapUsed'), 1)} MB, lowest ${fmt(lowest(afterWarmup), 1)} MB; last ${fmt(window)} s median ${fmt(med(lastWindow, 'heapUsed'), 1)} MB, lowest ${fmt(lowest(lastWindow), 1)} MB`);
  console.log(`server /-/health: ${health.status}; error lines in the server's log: ${serverErrors.length}`);
  for (const [name, r] of Object.entries(proxyStats)) {
    console.log(`${name} (/-/stats): ${fmt(r.hits ?? 0)} hits, ${fmt(r.misses ?? 0)} misses, ${fmt(r.stale ?? 0)} stale, ${fmt(r.upstreamRequests ?? 0)} upstream requests, ${r.upstreamErrors ?? 0} upstream errors`);
  }
  for (const line of serverErrors.slice(0, 10)) console.log(`  ${line.slice(0, 400)}`);
  if (errorSamples.size) {
    console.log('\nErrors, by kind of message (count, one example):');
    for (const { count, example } of [...errorSamples.values()].sort((a, b) => b.count - a.count).slice(0, 20)) console.log(`  ${count}x ${example}`);
  }
  if (totalErrors > 0 || missing > 0 || upstreamErrors > 0 || serverErrors.length > 0 || health.status !== 200) exitCode = 1;
  if (!flat) exitCode = 1;
  console.log(`\n${exitCode ? 'FAIL' : 'PASS'} (${fmt((Date.now() - started) / 1000)} s in all)`);
} catch (error) {
  console.error(error instanceof Error ? error.stack : error);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);

