// Which member of an OCI group serves an image, driven by skopeo: the hosted member that
// holds the image (its component index) answers alone, even when the proxy member's
// upstream (the CNCF distribution registry) has an image of that name with other content
// at the same tag; another hosted member's copy is never served; a `routing` claim keeps a
// name from the proxy before anything is pushed; answers name their member.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BlobSet,
  OCI_MANIFEST,
  countingProxy,
  errorCode,
  layoutBlobs,
  skopeo,
  startDistribution,
  writeLayout,
  type BuiltImage,
  type CountingProxy,
  type Distribution,
} from '../helpers/oci.js';
import { createUserAndToken, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

const PASSWORD = 'correct-horse-battery';
const noTls = ['--src-tls-verify=false', '--dest-tls-verify=false'];

/** An OCI layout in a new folder holding one single-platform image under `tag`. */
function layoutOf(label: string, tag: string): { dir: string; blobs: BlobSet; image: BuiltImage } {
  const dir = tempDir(`oci-${label}`);
  const blobs = new BlobSet();
  const image = blobs.image({ label, layers: 2 });
  writeLayout(dir, blobs, [{ ...image.descriptor, annotations: { 'org.opencontainers.image.ref.name': tag } }]);
  return { dir, blobs, image };
}

/** The digest index.json of a layout names first. */
function layoutDigest(dir: string): string {
  return (JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] }).manifests[0]!.digest;
}

describe('OCI group ownership', () => {
  let distribution: Distribution;
  let upstream: CountingProxy;
  let node: RunningRegistry;
  let host: string;
  // What the upstream has: acme/app:1.0 (and an upstream-only tag), team/tool:1, other/base:1.
  let upstreamApp: ReturnType<typeof layoutOf>;
  let upstreamTool: ReturnType<typeof layoutOf>;
  // What alice pushes to the first hosted member, and bob to the second, as acme/app:1.0.
  let alice: ReturnType<typeof layoutOf>;
  let bob: ReturnType<typeof layoutOf>;

  const seed = async (layout: ReturnType<typeof layoutOf>, tag: string, ref: string) => {
    const pushed = await skopeo(['copy', ...noTls, `oci:${layout.dir}:${tag}`, `docker://127.0.0.1:${distribution.port}/${ref}`]);
    expect(pushed.code, pushed.stderr).toBe(0);
  };
  const get = (rest: string, init: RequestInit = {}) => fetch(`${node.url}/${rest}`, { ...init, headers: { accept: OCI_MANIFEST, ...(init.headers as Record<string, string> | undefined) } });
  const tagsOf = async (ref: string): Promise<string[]> => {
    const listed = await skopeo(['list-tags', '--tls-verify=false', `docker://${host}/${ref}`]);
    expect(listed.code, listed.stderr).toBe(0);
    return (JSON.parse(listed.stdout) as { Tags: string[] }).Tags.sort();
  };

  beforeAll(async () => {
    distribution = await startDistribution();
    upstream = await countingProxy(distribution.url);
    upstreamApp = layoutOf('upstream-app', '1.0');
    upstreamTool = layoutOf('upstream-tool', '1');
    await seed(upstreamApp, '1.0', 'acme/app:1.0');
    await seed(upstreamApp, '1.0', 'acme/app:upstream-only');
    await seed(upstreamTool, '1', 'team/tool:1');
    await seed(upstreamTool, '1', 'other/base:1');
    alice = layoutOf('alice', '1.0');
    bob = layoutOf('bob', '1.0');

    // The proxy comes first in both groups: only ownership keeps it from answering.
    node = await startRegistry(`auth:
  permissions:
    - { repositories: ["hosted-a"], write: [alice], delete: [alice] }
    - { repositories: ["hosted-b"], write: [bob], delete: [bob] }
repositories:
  hosted-a: { format: oci, type: hosted }
  hosted-b: { format: oci, type: hosted }
  proxy: { format: oci, type: proxy, upstream: "${upstream.url}/", cache: { metadataTtl: 1 } }
  oci: { format: oci, type: group, members: [proxy, hosted-a, hosted-b] }
  claimed: { format: oci, type: group, members: [proxy, hosted-a], routing: { "team/*": [hosted-a] } }
`);
    await createUserAndToken(node.configFile, 'alice');
    await createUserAndToken(node.configFile, 'bob');
    host = `127.0.0.1:${node.port}`;
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    await upstream?.close();
    await distribution?.stop();
  });

  it('serves an image the proxy has from the hosted member once it is pushed there, always, with only its own tags', async () => {
    // Nobody hosts acme/app yet: the proxy answers for it through the group.
    const before = await get('oci/v2/acme/app/manifests/1.0');
    expect(before.status).toBe(200);
    expect(before.headers.get('x-registry-member')).toBe('proxy');
    expect(before.headers.get('docker-content-digest')).toBe(upstreamApp.image.descriptor.digest);
    expect(await tagsOf('oci/acme/app')).toEqual(['1.0', 'upstream-only']);

    // alice pushes through the group: the write goes to the first hosted member.
    const push = await skopeo(['copy', ...noTls, '--dest-creds', `alice:${PASSWORD}`, `oci:${alice.dir}:1.0`, `docker://${host}/oci/acme/app:1.0`]);
    expect(push.code, push.stderr).toBe(0);
    const stored = await get(`hosted-a/v2/acme/app/manifests/1.0`);
    expect(stored.headers.get('docker-content-digest')).toBe(alice.image.descriptor.digest);
    expect((await get(`hosted-b/v2/acme/app/manifests/1.0`)).status).toBe(404);

    // From now on the group asks hosted-a only, past the proxy's metadata TTL too.
    const asked = upstream.requests.length;
    for (let round = 0; round < 3; round++) {
      if (round === 2) await new Promise((r) => setTimeout(r, 1200));
      const back = tempDir('oci-owned');
      const pull = await skopeo(['copy', ...noTls, `docker://${host}/oci/acme/app:1.0`, `oci:${back}:1.0`]);
      expect(pull.code, pull.stderr).toBe(0);
      expect(layoutDigest(back)).toBe(alice.image.descriptor.digest);
      expect(layoutBlobs(back)).toEqual(layoutBlobs(alice.dir));
      for (const layer of alice.image.layers) {
        expect(readFileSync(path.join(back, 'blobs', 'sha256', layer.digest.slice(7)))).toEqual(alice.blobs.blobs.get(layer.digest));
      }
    }
    const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${host}/oci/acme/app:1.0`]);
    expect(raw.stdout).toBe(alice.image.manifest.toString());
    expect(await tagsOf('oci/acme/app')).toEqual(['1.0']);
    // The upstream's content is not merged in, not even by digest.
    const upstreamByDigest = await get(`oci/v2/acme/app/manifests/${upstreamApp.image.descriptor.digest}`);
    expect(upstreamByDigest.status).toBe(404);
    expect(await errorCode(upstreamByDigest)).toBe('MANIFEST_UNKNOWN');
    const upstreamLayer = await get(`oci/v2/acme/app/blobs/${upstreamApp.image.layers[0]!.digest}`);
    expect(upstreamLayer.status).toBe(404);
    expect(await errorCode(upstreamLayer)).toBe('BLOB_UNKNOWN');
    const inspectUpstreamTag = await skopeo(['inspect', '--tls-verify=false', `docker://${host}/oci/acme/app:upstream-only`]);
    expect(inspectUpstreamTag.code).not.toBe(0);
    expect(inspectUpstreamTag.stderr).toMatch(/manifest unknown/i);
    expect(upstream.requests.slice(asked).filter((r) => r.includes('/acme/app/'))).toEqual([]);
  });

  it('never serves the same image name that another user pushed to a second hosted member', async () => {
    const push = await skopeo(['copy', ...noTls, '--dest-creds', `bob:${PASSWORD}`, `oci:${bob.dir}:1.0`, `docker://${host}/hosted-b/acme/app:1.0`]);
    expect(push.code, push.stderr).toBe(0);
    const pushOther = await skopeo(['copy', ...noTls, '--dest-creds', `bob:${PASSWORD}`, `oci:${bob.dir}:1.0`, `docker://${host}/hosted-b/acme/app:b-only`]);
    expect(pushOther.code, pushOther.stderr).toBe(0);
    expect(await tagsOf('hosted-b/acme/app')).toEqual(['1.0', 'b-only']);

    const back = tempDir('oci-not-bob');
    const pull = await skopeo(['copy', ...noTls, `docker://${host}/oci/acme/app:1.0`, `oci:${back}:1.0`]);
    expect(pull.code, pull.stderr).toBe(0);
    expect(layoutDigest(back)).toBe(alice.image.descriptor.digest);
    expect(layoutBlobs(back)).toEqual(layoutBlobs(alice.dir));
    expect(await tagsOf('oci/acme/app')).toEqual(['1.0']);
    const bobsTag = await skopeo(['inspect', '--tls-verify=false', `docker://${host}/oci/acme/app:b-only`]);
    expect(bobsTag.code).not.toBe(0);
    expect(bobsTag.stderr).toMatch(/manifest unknown/i);
    const bobsLayer = await get(`oci/v2/acme/app/blobs/${bob.image.layers[0]!.digest}`);
    expect(bobsLayer.status).toBe(404);
    expect(await errorCode(bobsLayer)).toBe('BLOB_UNKNOWN');

    // bob's write through the group goes to the owner, where he may not write: refused,
    // and nothing lands in hosted-b.
    const refused = await skopeo(['copy', ...noTls, '--dest-creds', `bob:${PASSWORD}`, `oci:${bob.dir}:1.0`, `docker://${host}/oci/acme/app:via-group`]);
    expect(refused.code).not.toBe(0);
    expect(await tagsOf('hosted-b/acme/app')).toEqual(['1.0', 'b-only']);
    expect(await tagsOf('hosted-a/acme/app')).toEqual(['1.0']);
  });

  it('never asks the proxy for a name a routing claim gives to a hosted member, even before anything is pushed', async () => {
    const asked = upstream.requests.length;
    const manifest = await get('claimed/v2/team/tool/manifests/1');
    expect(manifest.status).toBe(404);
    expect(['NAME_UNKNOWN', 'MANIFEST_UNKNOWN']).toContain(await errorCode(manifest));
    const byDigest = await get(`claimed/v2/team/tool/manifests/${upstreamTool.image.descriptor.digest}`);
    expect(byDigest.status).toBe(404);
    expect(['NAME_UNKNOWN', 'MANIFEST_UNKNOWN']).toContain(await errorCode(byDigest));
    const blob = await get(`claimed/v2/team/tool/blobs/${upstreamTool.image.layers[0]!.digest}`);
    expect(blob.status).toBe(404);
    expect(['NAME_UNKNOWN', 'BLOB_UNKNOWN']).toContain(await errorCode(blob));
    // The referrers API never 404s a valid request: nobody to ask means no referrers.
    const referrers = await get(`claimed/v2/team/tool/referrers/${upstreamTool.image.descriptor.digest}`);
    expect(referrers.status).toBe(200);
    expect(((await referrers.json()) as { manifests: unknown[] }).manifests).toEqual([]);
    const tags = await get('claimed/v2/team/tool/tags/list');
    expect(tags.status).toBe(404);
    expect(await errorCode(tags)).toBe('NAME_UNKNOWN');
    const inspect = await skopeo(['inspect', '--tls-verify=false', `docker://${host}/claimed/team/tool:1`]);
    expect(inspect.code).not.toBe(0);
    expect(inspect.stderr).toMatch(/manifest unknown|name unknown/i);
    expect(upstream.requests.slice(asked)).toEqual([]);

    // The claim is what kept the proxy out: an unclaimed name goes to it, and it has team/tool.
    const unclaimed = await get('claimed/v2/other/base/manifests/1');
    expect(unclaimed.status).toBe(200);
    expect(unclaimed.headers.get('x-registry-member')).toBe('proxy');
    const direct = await get('proxy/v2/team/tool/manifests/1');
    expect(direct.status).toBe(200);
    expect(direct.headers.get('docker-content-digest')).toBe(upstreamTool.image.descriptor.digest);

    // Pushed through the claiming group, it lands in the claimed member and comes back as pushed.
    const afterProxy = upstream.requests.length;
    const mine = layoutOf('team-tool', '1');
    const push = await skopeo(['copy', ...noTls, '--dest-creds', `alice:${PASSWORD}`, `oci:${mine.dir}:1`, `docker://${host}/claimed/team/tool:1`]);
    expect(push.code, push.stderr).toBe(0);
    const back = tempDir('oci-claimed');
    const pull = await skopeo(['copy', ...noTls, `docker://${host}/claimed/team/tool:1`, `oci:${back}:1`]);
    expect(pull.code, pull.stderr).toBe(0);
    expect(layoutDigest(back)).toBe(mine.image.descriptor.digest);
    expect(layoutBlobs(back)).toEqual(layoutBlobs(mine.dir));
    expect(upstream.requests.slice(afterProxy)).toEqual([]);
  });

  it('names the member that answered in X-Registry-Member', async () => {
    const manifest = await get('oci/v2/acme/app/manifests/1.0');
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get('x-registry-member')).toBe('hosted-a');
    const head = await get('oci/v2/acme/app/manifests/1.0', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('x-registry-member')).toBe('hosted-a');
    const blob = await get(`oci/v2/acme/app/blobs/${alice.image.layers[0]!.digest}`);
    expect(blob.status).toBe(200);
    expect(blob.headers.get('x-registry-member')).toBe('hosted-a');
    expect(Buffer.from(await blob.arrayBuffer())).toEqual(alice.blobs.blobs.get(alice.image.layers[0]!.digest));
    const tags = await get('oci/v2/acme/app/tags/list');
    expect(tags.headers.get('x-registry-member')).toBe('hosted-a');
    expect(((await tags.json()) as { tags: string[] }).tags).toEqual(['1.0']);
    const referrers = await get(`oci/v2/acme/app/referrers/${alice.image.descriptor.digest}`);
    expect(referrers.status).toBe(200);
    expect(referrers.headers.get('x-registry-member')).toBe('hosted-a');
    // The catalog merges every member that has one.
    const catalog = await get('oci/v2/_catalog');
    expect(catalog.status).toBe(200);
    expect(catalog.headers.get('x-registry-member')!.split(', ').sort()).toEqual(['hosted-a', 'hosted-b', 'proxy']);
    expect(((await catalog.json()) as { repositories: string[] }).repositories).toEqual(expect.arrayContaining(['acme/app', 'other/base']));
    // At the host root, as docker and skopeo address it.
    const rooted = await fetch(`${node.url}/v2/claimed/team/tool/manifests/1`, { headers: { accept: OCI_MANIFEST } });
    expect(rooted.status).toBe(200);
    expect(rooted.headers.get('x-registry-member')).toBe('hosted-a');
  });

  it('keeps ownership while the hosted member holds a manifest of the image, and passes it on when the last one goes', async () => {
    const auth = (user: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${PASSWORD}`).toString('base64')}` });
    // Untagged, alice's manifest is still hosted-a's: the group answers for hosted-a alone.
    expect((await get('hosted-a/v2/acme/app/manifests/1.0', { method: 'DELETE', headers: auth('alice') })).status).toBe(202);
    const untagged = await get('oci/v2/acme/app/manifests/1.0');
    expect(untagged.status).toBe(404);
    expect(await errorCode(untagged)).toBe('MANIFEST_UNKNOWN');
    const byDigest = await get(`oci/v2/acme/app/manifests/${alice.image.descriptor.digest}`);
    expect(byDigest.status).toBe(200);
    expect(byDigest.headers.get('x-registry-member')).toBe('hosted-a');
    const noTags = await get('oci/v2/acme/app/tags/list');
    expect(noTags.headers.get('x-registry-member')).toBe('hosted-a');
    expect(((await noTags.json()) as { tags: string[] }).tags).toEqual([]);

    // Its last manifest gone, the next hosted member that holds the name owns it.
    expect((await get(`hosted-a/v2/acme/app/manifests/${alice.image.descriptor.digest}`, { method: 'DELETE', headers: auth('alice') })).status).toBe(202);
    const bobs = await get('oci/v2/acme/app/manifests/1.0');
    expect(bobs.status).toBe(200);
    expect(bobs.headers.get('x-registry-member')).toBe('hosted-b');
    expect(bobs.headers.get('docker-content-digest')).toBe(bob.image.descriptor.digest);
    expect(await tagsOf('oci/acme/app')).toEqual(['1.0', 'b-only']);

    // No hosted member holds it any more: the proxy answers again, with the upstream's image.
    const deleted = await skopeo(['delete', '--tls-verify=false', '--creds', `bob:${PASSWORD}`, `docker://${host}/hosted-b/acme/app:1.0`]);
    expect(deleted.code, deleted.stderr).toBe(0);
    const proxied = await get('oci/v2/acme/app/manifests/1.0');
    expect(proxied.status).toBe(200);
    expect(proxied.headers.get('x-registry-member')).toBe('proxy');
    expect(proxied.headers.get('docker-content-digest')).toBe(upstreamApp.image.descriptor.digest);
    expect(await tagsOf('oci/acme/app')).toEqual(['1.0', 'upstream-only']);
  });
});
