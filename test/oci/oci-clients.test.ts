// The OCI format driven by the real clients: skopeo copies a multi-layer, multi-architecture
// image from a layout built here to a hosted repository and back, podman pulls and pushes,
// and the proxy's upstream is the CNCF distribution registry (Debian's docker-registry)
// seeded by skopeo, behind a pass-through that counts what reaches it.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BlobSet,
  DOCKER_LIST,
  OCI_INDEX,
  countingProxy,
  layoutBlobs,
  podmanRunner,
  sha256,
  skopeo,
  startDistribution,
  writeLayout,
  writeMultiArchLayout,
  type CountingProxy,
  type Distribution,
} from '../helpers/oci.js';
import { fetchPackageView } from '@registry-core/testing';
import { createUserAndToken, eventually, repositoryPort, runCli, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

const PASSWORD = 'correct-horse-battery';

describe('OCI with skopeo, podman and the distribution registry', () => {
  let distribution: Distribution;
  let upstream: CountingProxy;
  let node: RunningRegistry;
  let host: string;
  let creds: string[];
  let source: string;
  let built: ReturnType<typeof writeMultiArchLayout>;
  let seed: string;
  let seeded: ReturnType<typeof writeMultiArchLayout>;

  const noTls = ['--src-tls-verify=false', '--dest-tls-verify=false'];

  beforeAll(async () => {
    distribution = await startDistribution();
    upstream = await countingProxy(distribution.url);
    // The upstream's image, pushed there by skopeo.
    seed = tempDir('oci-seed');
    seeded = writeMultiArchLayout(seed, '1', 2);
    const pushed = await skopeo(['copy', '--all', ...noTls, `oci:${seed}:1`, `docker://127.0.0.1:${distribution.port}/demo/base:1`]);
    expect(pushed.code, pushed.stderr).toBe(0);

    node = await startRegistry(`repositories:
  oci-local: { format: oci, type: hosted }
  oci-proxy: { format: oci, type: proxy, upstream: "${upstream.url}/", cache: { metadataTtl: 1 } }
  oci: { format: oci, type: group, members: [oci-local, oci-proxy] }
  mirror: { format: oci, type: proxy, upstream: "${upstream.url}/", port: 0 }
  gc-local: { format: oci, type: hosted, gcGraceSeconds: 0 }
`);
    await createUserAndToken(node.configFile, 'ci');
    host = `127.0.0.1:${node.port}`;
    creds = ['--dest-creds', `ci:${PASSWORD}`];
    source = tempDir('oci-layout');
    built = writeMultiArchLayout(source, '1.0', 3);
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    await upstream?.close();
    await distribution?.stop();
  });

  it('copies a multi-architecture image to a hosted repository and back through the group, byte for byte', async () => {
    const anonymous = await skopeo(['copy', '--all', ...noTls, `oci:${source}:1.0`, `docker://${host}/oci-local/team/app:1.0`]);
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.stderr).toMatch(/authentication required|unauthorized/i);

    const push = await skopeo(['copy', '--all', ...noTls, ...creds, `oci:${source}:1.0`, `docker://${host}/oci-local/team/app:1.0`]);
    expect(push.code, push.stderr).toBe(0);
    expect(push.stdout).toContain('Copying 2 of 2 images in list');
    expect(push.stdout).toContain('Writing manifest list to image destination');

    const back = tempDir('oci-back');
    const pull = await skopeo(['copy', '--all', ...noTls, `docker://${host}/oci/team/app:1.0`, `oci:${back}:1.0`]);
    expect(pull.code, pull.stderr).toBe(0);
    expect(layoutBlobs(back)).toEqual(layoutBlobs(source));
    const index = JSON.parse(readFileSync(path.join(back, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    expect(index.manifests[0]!.digest).toBe(built.index.digest);

    // The web interface's view of what skopeo pushed (the browse API, through the group).
    const view = await fetchPackageView(node.url, 'oci', 'team/app', '1.0');
    expect(view.heldBy).toBe('oci-local');
    expect(view.tags).toEqual({ '1.0': built.index.digest });
    expect(view.facts).toMatchObject({ 'media type': OCI_INDEX, digest: built.index.digest, platforms: 'linux/amd64, linux/arm64' });
    expect(view.files.map((f) => `sha256:${f.digests['sha256']}`)).toEqual(built.images.map((i) => i.descriptor.digest));
    expect(view.install[0]).toBe(`docker pull ${host}/oci/team/app:1.0`);
  });

  it('stores Docker media types too (manifest list and schema 2), converted by skopeo', async () => {
    const push = await skopeo(['copy', '--all', '--format', 'v2s2', ...noTls, ...creds, `oci:${source}:1.0`, `docker://${host}/oci-local/team/app:docker`]);
    expect(push.code, push.stderr).toBe(0);
    const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${host}/oci-local/team/app:docker`]);
    expect(raw.code, raw.stderr).toBe(0);
    const list = JSON.parse(raw.stdout) as { mediaType: string; manifests: { digest: string; mediaType: string }[] };
    expect(list.mediaType).toBe(DOCKER_LIST);
    const child = await fetch(`${node.url}/oci-local/v2/team/app/manifests/${list.manifests[0]!.digest}`, {
      headers: { accept: list.manifests[0]!.mediaType },
    });
    expect(child.status).toBe(200);
    expect(child.headers.get('content-type')).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(child.headers.get('docker-content-digest')).toBe(list.manifests[0]!.digest);
  });

  it('inspects, lists tags and deletes a tag', async () => {
    const inspect = await skopeo(['inspect', '--tls-verify=false', '--override-arch', 'arm64', `docker://${host}/oci-local/team/app:1.0`]);
    expect(inspect.code, inspect.stderr).toBe(0);
    const info = JSON.parse(inspect.stdout) as { Name: string; Digest: string; Architecture: string; Layers: string[]; RepoTags: string[] };
    const arm = built.images.find((i) => i.descriptor.platform!.architecture === 'arm64')!;
    expect(info.Name).toBe(`${host}/oci-local/team/app`);
    // skopeo names the digest of what the tag points at: the index.
    expect(info.Digest).toBe(built.index.digest);
    expect(info.Architecture).toBe('arm64');
    expect(info.Layers).toEqual(arm.layers.map((l) => l.digest));
    expect(info.RepoTags.sort()).toEqual(['1.0', 'docker']);

    const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${host}/oci/team/app:1.0`]);
    expect(raw.stdout).toBe(built.blobs.blobs.get(built.index.digest)!.toString());

    const tags = await skopeo(['list-tags', '--tls-verify=false', `docker://${host}/oci-local/team/app`]);
    expect(tags.code, tags.stderr).toBe(0);
    expect((JSON.parse(tags.stdout) as { Tags: string[] }).Tags.sort()).toEqual(['1.0', 'docker']);

    const refused = await skopeo(['delete', '--tls-verify=false', `docker://${host}/oci-local/team/app:docker`]);
    expect(refused.code).not.toBe(0);
    const deleted = await skopeo(['delete', '--tls-verify=false', '--creds', `ci:${PASSWORD}`, `docker://${host}/oci-local/team/app:docker`]);
    expect(deleted.code, deleted.stderr).toBe(0);
    const after = await skopeo(['list-tags', '--tls-verify=false', `docker://${host}/oci-local/team/app`]);
    expect((JSON.parse(after.stdout) as { Tags: string[] }).Tags).toEqual(['1.0']);
    const gone = await skopeo(['inspect', '--tls-verify=false', `docker://${host}/oci-local/team/app:docker`]);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toMatch(/manifest unknown/i);
    // The other tag is untouched.
    const still = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${host}/oci-local/team/app:1.0`]);
    expect(still.code).toBe(0);
  });

  it('pulls with podman from the group and pushes with podman to the hosted repository', async () => {
    const podman = podmanRunner();
    const pulled = await podman(['pull', '--tls-verify=false', '--arch', 'amd64', `${host}/oci/team/app:1.0`]);
    expect(pulled.code, pulled.stderr).toBe(0);
    const amd = built.images.find((i) => i.descriptor.platform!.architecture === 'amd64')!;
    // podman prints the image id: the config's digest.
    expect(pulled.stdout.trim().split('\n').pop()).toBe(amd.config.digest.slice(7));
    const pushed = await podman(['push', '--tls-verify=false', '--creds', `ci:${PASSWORD}`, `${host}/oci/team/app:1.0`, `docker://${host}/oci-local/team/podman:1`]);
    expect(pushed.code, pushed.stderr).toBe(0);
    const inspect = await skopeo(['inspect', '--tls-verify=false', `docker://${host}/oci-local/team/podman:1`]);
    expect(inspect.code, inspect.stderr).toBe(0);
    expect((JSON.parse(inspect.stdout) as { Architecture: string }).Architecture).toBe('amd64');
  });

  it('pulls through the proxy from the distribution registry, by tag and by digest, and through the group', async () => {
    const before = upstream.count(/GET \/v2\/demo\/base\/blobs\//);
    const back = tempDir('oci-proxied');
    const pull = await skopeo(['copy', '--all', ...noTls, `docker://${host}/oci-proxy/demo/base:1`, `oci:${back}:1`]);
    expect(pull.code, pull.stderr).toBe(0);
    expect(layoutBlobs(back)).toEqual(layoutBlobs(seed));
    const blobCount = layoutBlobs(seed).size - 3; // less the index and the two manifests
    expect(upstream.count(/GET \/v2\/demo\/base\/blobs\//) - before).toBe(blobCount);

    // Again, through the group: the proxy's cache answers, the upstream sees no blob request.
    const again = tempDir('oci-proxied-again');
    const fromGroup = await skopeo(['copy', '--all', ...noTls, `docker://${host}/oci/demo/base@${seeded.index.digest}`, `oci:${again}:1`]);
    expect(fromGroup.code, fromGroup.stderr).toBe(0);
    expect(layoutBlobs(again)).toEqual(layoutBlobs(seed));
    expect(upstream.count(/GET \/v2\/demo\/base\/blobs\//) - before).toBe(blobCount);

    const tags = await skopeo(['list-tags', '--tls-verify=false', `docker://${host}/oci/demo/base`]);
    expect((JSON.parse(tags.stdout) as { Tags: string[] }).Tags).toEqual(['1']);

    // What the proxy cached is browsable (the web interface's API): the image, with the tag
    // pulled as its version (the manifests and blobs kept by digest are no versions).
    const basic = { authorization: `Basic ${Buffer.from(`ci:${PASSWORD}`).toString('base64')}` };
    const listed = (await (await fetch(`${node.url}/-/api/repositories/oci-proxy/packages?q=demo`, { headers: basic })).json()) as { items: { name: string; version: string }[] };
    expect(listed.items.map((p) => [p.name, p.version])).toEqual([['demo/base', '1']]);
    const opened = (await (await fetch(`${node.url}/-/api/repositories/oci-proxy/packages/${encodeURIComponent('demo/base')}`, { headers: basic })).json()) as { version: string; versions: { version: string }[] };
    expect(opened.version).toBe('1');
    expect(opened.versions.map((v) => v.version)).toEqual(['1']);
  });

  it('answers a HEAD of a blob it has not cached with the upstream\'s size, without downloading the blob', async () => {
    // Found by bench/soak.mjs: the answer had no Content-Length (the OCI spec requires it on a blob HEAD).
    const bytes = randomBytes(3000);
    const digest = sha256(bytes);
    const started = await fetch(`${distribution.url}/v2/demo/head-only/blobs/uploads/`, { method: 'POST' });
    expect(started.status).toBe(202);
    const location = new URL(started.headers.get('location')!, distribution.url);
    location.searchParams.set('digest', digest);
    expect((await fetch(location, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } })).status).toBe(201);

    for (const url of [`${node.url}/oci-proxy/v2/demo/head-only/blobs/${digest}`, `${node.url}/v2/oci/demo/head-only/blobs/${digest}`]) {
      const head = await fetch(url, { method: 'HEAD' });
      expect(head.status, url).toBe(200);
      expect(head.headers.get('docker-content-digest'), url).toBe(digest);
      expect(head.headers.get('content-length'), url).toBe(String(bytes.length));
      expect(head.headers.get('content-type'), url).toBe('application/octet-stream');
    }
    expect(upstream.count(/GET \/v2\/demo\/head-only\/blobs\//)).toBe(0);
  });

  it('serves a proxy on a port of its own at the host root, as registry-mirrors needs, with one upstream request for concurrent pulls', async () => {
    const port = repositoryPort(node, 'mirror');
    const mirror = `http://127.0.0.1:${port}`;
    const version = await fetch(`${mirror}/v2/`);
    expect(version.status).toBe(401);
    expect(version.headers.get('www-authenticate')).toMatch(new RegExp(`^Bearer realm="${mirror}/v2/token"`));

    const layer = seeded.images[0]!.layers[0]!;
    const before = upstream.count(new RegExp(`GET /v2/demo/base/blobs/${layer.digest}`));
    const answers = await Promise.all(Array.from({ length: 8 }, () => fetch(`${mirror}/v2/demo/base/blobs/${layer.digest}`).then(async (r) => ({ status: r.status, body: Buffer.from(await r.arrayBuffer()) }))));
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.body.equals(seeded.blobs.blobs.get(layer.digest)!)).toBe(true);
    }
    expect(upstream.count(new RegExp(`GET /v2/demo/base/blobs/${layer.digest}`)) - before, upstream.failures.join('; ')).toBe(1);

    const back = tempDir('oci-mirror');
    const pull = await skopeo(['copy', '--all', ...noTls, `docker://127.0.0.1:${port}/demo/base:1`, `oci:${back}:1`]);
    expect(pull.code, pull.stderr).toBe(0);
    expect(layoutBlobs(back)).toEqual(layoutBlobs(seed));
  });

  it('revalidates a proxied tag with a HEAD after its TTL, follows a moved tag, and serves from cache when the upstream is gone', async () => {
    const heads = () => upstream.count(/HEAD \/v2\/demo\/base\/manifests\/1$/);
    const gets = () => upstream.count(/GET \/v2\/demo\/base\/manifests\/1$/);
    const getsBefore = gets();
    const headsBefore = heads();
    // Past the 1 s TTL: the next pull asks the upstream with a HEAD, which says unchanged.
    await new Promise((r) => setTimeout(r, 1200));
    const first = await fetch(`${node.url}/oci-proxy/v2/demo/base/manifests/1`, { headers: { accept: OCI_INDEX } });
    expect(first.status).toBe(200);
    expect(first.headers.get('docker-content-digest')).toBe(seeded.index.digest);
    expect(heads() - headsBefore).toBe(1);
    expect(gets() - getsBefore).toBe(0);

    // The tag moves upstream: after the TTL the proxy serves the new manifest.
    const moved = tempDir('oci-moved');
    const blobs = new BlobSet();
    const image = blobs.image({ arch: 'amd64', layers: 1, label: 'moved' });
    writeLayout(moved, blobs, [{ ...image.descriptor, annotations: { 'org.opencontainers.image.ref.name': '1' } }]);
    const retag = await skopeo(['copy', ...noTls, `oci:${moved}:1`, `docker://127.0.0.1:${distribution.port}/demo/base:1`]);
    expect(retag.code, retag.stderr).toBe(0);
    const followed = await eventually(
      () => fetch(`${node.url}/oci-proxy/v2/demo/base/manifests/1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } }).then((r) => r.headers.get('docker-content-digest')),
      (digest) => digest === image.descriptor.digest,
      { attempts: 60, intervalMs: 100 },
    );
    expect(followed).toBe(image.descriptor.digest);
    const pulledMoved = await skopeo(['copy', ...noTls, `docker://${host}/oci-proxy/demo/base:1`, `oci:${tempDir('oci-moved-pull')}:1`]);
    expect(pulledMoved.code, pulledMoved.stderr).toBe(0);

    // Upstream down: the moved tag (stale now) and the first image by digest still pull.
    await distribution.stop();
    await new Promise((r) => setTimeout(r, 1200));
    const byTag = await skopeo(['copy', ...noTls, `docker://${host}/oci-proxy/demo/base:1`, `oci:${tempDir('oci-stale')}:1`]);
    expect(byTag.code, byTag.stderr).toBe(0);
    const byDigest = await skopeo(['copy', '--all', ...noTls, `docker://${host}/oci-proxy/demo/base@${seeded.index.digest}`, `oci:${tempDir('oci-digest')}:1`]);
    expect(byDigest.code, byDigest.stderr).toBe(0);
    await distribution.start();
  });

  it('collects unreferenced blobs with `registry-core oci gc`, after a dry run, and keeps what manifests reference', async () => {
    const push = await skopeo(['copy', '--all', ...noTls, ...creds, `oci:${source}:1.0`, `docker://${host}/gc-local/app:1`]);
    expect(push.code, push.stderr).toBe(0);
    const amd = built.images.find((i) => i.descriptor.platform!.architecture === 'amd64')!;
    const arm = built.images.find((i) => i.descriptor.platform!.architecture === 'arm64')!;
    // The index goes, and with it the arm64 image; amd64 is kept under a tag of its own.
    const keep = await skopeo(['copy', ...noTls, ...creds, `docker://${host}/gc-local/app@${amd.descriptor.digest}`, `docker://${host}/gc-local/app:amd`]);
    expect(keep.code, keep.stderr).toBe(0);
    for (const digest of [built.index.digest, arm.descriptor.digest]) {
      const del = await skopeo(['delete', '--tls-verify=false', '--creds', `ci:${PASSWORD}`, `docker://${host}/gc-local/app@${digest}`]);
      expect(del.code, del.stderr).toBe(0);
    }
    // With credentials, so that no anonymous answer is replayed from memory.
    const basic = { authorization: `Basic ${Buffer.from(`ci:${PASSWORD}`).toString('base64')}` };
    const blobStatus = (digest: string, repo = 'gc-local/v2/app') => fetch(`${node.url}/${repo}/blobs/${digest}`, { method: 'HEAD', headers: basic }).then((r) => r.status);
    const armOnly = [arm.config.digest, ...arm.layers.map((l) => l.digest)];

    const dry = await runCli(['oci', 'gc', '--dry-run', '--repository', 'gc-local', '--config', node.configFile]);
    expect(dry.code, dry.stderr).toBe(0);
    const report = JSON.parse(/^gc-local: (.*)$/m.exec(dry.stdout)![1]!) as { blobs: number; removed: string[] };
    expect(report.blobs).toBe(armOnly.length);
    expect(report.removed.sort()).toEqual(armOnly.map((d) => `app@${d}`).sort());
    for (const digest of armOnly) expect(await blobStatus(digest)).toBe(200);

    const gc = await runCli(['oci', 'gc', '--repository', 'gc-local', '--config', node.configFile]);
    expect(gc.code, gc.stderr).toBe(0);
    // The server sees another process's removal within its 10 s cache of content rows.
    for (const digest of armOnly) expect(await eventually(() => blobStatus(digest), (s) => s === 404, { attempts: 150, intervalMs: 100 }), gc.stdout).toBe(404);
    for (const digest of [amd.config.digest, ...amd.layers.map((l) => l.digest)]) expect(await blobStatus(digest)).toBe(200);
    const pull = await skopeo(['copy', ...noTls, `docker://${host}/gc-local/app:amd`, `oci:${tempDir('oci-gc')}:amd`]);
    expect(pull.code, pull.stderr).toBe(0);
    // The blobs hosted in oci-local are the same bytes, and are untouched.
    for (const digest of armOnly) expect(await blobStatus(digest, 'oci-local/v2/team/app')).toBe(200);
  });
});
