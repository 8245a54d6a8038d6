// The distribution-spec 1.1 API, request by request, as its conformance suite checks it
// (that suite cannot be built here: its Go modules cannot be fetched), then the hostile
// inputs of the issue, each answered with the spec's code and status and nothing stored
// changed.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobSet, OCI_INDEX, OCI_MANIFEST, OciClient, errorCode, sha256, type BuiltImage } from '../helpers/oci.js';
import { createUserAndToken, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

const PASSWORD = 'correct-horse-battery';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('OCI distribution API', () => {
  let node: RunningRegistry;
  let client: OciClient;
  const blobs = new BlobSet();
  let image: BuiltImage;

  beforeAll(async () => {
    node = await startRegistry(`repositories:
  spec: { format: oci, type: hosted }
  keep: { format: oci, type: hosted, allowDelete: false }
  specg: { format: oci, type: group, members: [spec] }
  pull-only: { format: oci, type: proxy, upstream: "http://127.0.0.1:9/" }
`);
    await createUserAndToken(node.configFile, 'ci');
    client = new OciClient(`${node.url}/spec/v2/`, { username: 'ci', password: PASSWORD });
    image = blobs.image({ layers: 2, label: 'spec' });
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
  });

  it('answers the version check with a Bearer challenge, and 200 with credentials or a token', async () => {
    const anonymous = await fetch(`${node.url}/spec/v2/`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe(`Bearer realm="${node.url}/spec/v2/token",service="127.0.0.1:${node.port}"`);
    expect(await errorCode(anonymous)).toBe('UNAUTHORIZED');
    const withBasic = await fetch(`${node.url}/spec/v2/`, { headers: { authorization: basic('ci', PASSWORD) } });
    expect(withBasic.status).toBe(200);
    expect(withBasic.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    // The host-root address: /v2/<repository>/..., the realm naming the repository.
    const root = await fetch(`${node.url}/v2/`);
    expect(root.status).toBe(401);
    const wrong = await fetch(`${node.url}/spec/v2/`, { headers: { authorization: basic('ci', 'wrong') } });
    expect(wrong.status).toBe(401);
    const token = await client.token(anonymous.headers.get('www-authenticate')!);
    expect((await fetch(`${node.url}/spec/v2/`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });

  it('pushes blobs monolithically (POST then PUT, and one POST with the digest) and serves them with HEAD and Range', async () => {
    const data = randomBytes(4096);
    const digest = sha256(data);
    const started = await client.request('app/blobs/uploads/', { method: 'POST' });
    expect(started.status).toBe(202);
    const location = started.headers.get('location')!;
    expect(location).toMatch(/^\/spec\/v2\/app\/blobs\/uploads\/[\w-]+$/);
    expect(started.headers.get('docker-upload-uuid')).toBeTruthy();
    const put = await client.request(`${node.url}${location}?digest=${digest}`, { method: 'PUT', body: data, headers: { 'content-type': 'application/octet-stream' } });
    expect(put.status).toBe(201);
    expect(put.headers.get('location')).toBe(`/spec/v2/app/blobs/${digest}`);
    expect(put.headers.get('docker-content-digest')).toBe(digest);

    const head = await client.request(`app/blobs/${digest}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('4096');
    expect(head.headers.get('docker-content-digest')).toBe(digest);
    const range = await client.request(`app/blobs/${digest}`, { headers: { range: 'bytes=100-199' } });
    expect(range.status).toBe(206);
    expect(range.headers.get('content-range')).toBe('bytes 100-199/4096');
    expect(Buffer.from(await range.arrayBuffer()).equals(data.subarray(100, 200))).toBe(true);

    const single = randomBytes(1000);
    expect(await client.pushBlob('app', single)).toBe(sha256(single));
    const got = await client.request(`app/blobs/${sha256(single)}`);
    expect(Buffer.from(await got.arrayBuffer()).equals(single)).toBe(true);
  });

  it('takes chunked uploads in order, reports their progress, refuses a gap with 416, and cancels', async () => {
    const data = randomBytes(10_000);
    const digest = sha256(data);
    const started = await client.request('chunked/blobs/uploads/', { method: 'POST', headers: { 'content-length': '0' } });
    let location = `${node.url}${started.headers.get('location')!}`;
    const first = await client.request(location, {
      method: 'PATCH',
      body: data.subarray(0, 4000),
      headers: { 'content-type': 'application/octet-stream', 'content-range': '0-3999' },
    });
    expect(first.status).toBe(202);
    expect(first.headers.get('range')).toBe('0-3999');
    location = `${node.url}${first.headers.get('location')!}`;
    const status = await client.request(location);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-3999');

    const gap = await client.request(location, { method: 'PATCH', body: data.subarray(5000, 6000), headers: { 'content-type': 'application/octet-stream', 'content-range': '5000-5999' } });
    expect(gap.status).toBe(416);
    expect(await errorCode(gap)).toBe('BLOB_UPLOAD_INVALID');
    expect((await client.request(location)).headers.get('range')).toBe('0-3999');

    // A chunk without Content-Range (as docker streams) appends.
    const second = await client.request(location, { method: 'PATCH', body: data.subarray(4000, 9000), headers: { 'content-type': 'application/octet-stream' } });
    expect(second.status).toBe(202);
    expect(second.headers.get('range')).toBe('0-8999');
    // The last chunk with the closing PUT.
    const closed = await client.request(`${location}?digest=${digest}`, {
      method: 'PUT',
      body: data.subarray(9000),
      headers: { 'content-type': 'application/octet-stream', 'content-range': '9000-9999' },
    });
    expect(closed.status).toBe(201);
    const got = await client.request(`chunked/blobs/${digest}`);
    expect(Buffer.from(await got.arrayBuffer()).equals(data)).toBe(true);
    // The finished session is gone.
    const finished = await client.request(location);
    expect(finished.status).toBe(404);
    expect(await errorCode(finished)).toBe('BLOB_UPLOAD_UNKNOWN');

    const other = await client.request('chunked/blobs/uploads/', { method: 'POST' });
    const otherLocation = `${node.url}${other.headers.get('location')!}`;
    await client.request(otherLocation, { method: 'PATCH', body: randomBytes(100), headers: { 'content-type': 'application/octet-stream' } });
    expect((await client.request(otherLocation, { method: 'DELETE' })).status).toBe(204);
    const cancelled = await client.request(otherLocation);
    expect(cancelled.status).toBe(404);
    expect(await errorCode(cancelled)).toBe('BLOB_UPLOAD_UNKNOWN');
  });

  it('mounts a blob from another image, and falls back to an upload session when it cannot', async () => {
    const data = randomBytes(2000);
    const digest = await client.pushBlob('source/img', data);
    // A token for both images, as docker asks for one before a mount.
    await client.authorize(`${node.url}/spec/v2/token`, ['repository:target/img:pull,push', 'repository:source/img:pull']);
    const mounted = await client.request(`target/img/blobs/uploads/?mount=${digest}&from=source/img`, { method: 'POST' });
    expect(mounted.status).toBe(201);
    expect(mounted.headers.get('location')).toBe(`/spec/v2/target/img/blobs/${digest}`);
    const got = await client.request(`target/img/blobs/${digest}`);
    expect(Buffer.from(await got.arrayBuffer()).equals(data)).toBe(true);
    const missing = await client.request(`target/img/blobs/uploads/?mount=${sha256('nothing')}&from=source/img`, { method: 'POST' });
    expect(missing.status).toBe(202);
    expect(missing.headers.get('location')).toMatch(/\/blobs\/uploads\//);
  });

  it('stores manifests by tag and by digest and serves them with their media type and digest', async () => {
    const pushed = await client.pushImage('app', 'v1', blobs, image);
    expect(pushed.status).toBe(201);
    expect(pushed.headers.get('docker-content-digest')).toBe(image.descriptor.digest);
    expect(pushed.headers.get('location')).toBe(`/spec/v2/app/manifests/${image.descriptor.digest}`);
    for (const reference of ['v1', image.descriptor.digest]) {
      const got = await client.request(`app/manifests/${reference}`, { headers: { accept: OCI_MANIFEST } });
      expect(got.status).toBe(200);
      expect(got.headers.get('content-type')).toBe(OCI_MANIFEST);
      expect(got.headers.get('docker-content-digest')).toBe(image.descriptor.digest);
      expect(Buffer.from(await got.arrayBuffer()).equals(image.manifest)).toBe(true);
      const head = await client.request(`app/manifests/${reference}`, { method: 'HEAD', headers: { accept: OCI_MANIFEST } });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(String(image.manifest.length));
    }
    // By digest only (no tag), and an index over it.
    const index = blobs.index([image]);
    const byDigest = await client.pushManifest('app', index.descriptor.digest, index.body, OCI_INDEX);
    expect(byDigest.status).toBe(201);
    const through = await fetch(`${node.url}/specg/v2/app/manifests/${index.descriptor.digest}`, { headers: { accept: OCI_INDEX } });
    expect(through.status).toBe(200);
    expect(through.headers.get('content-type')).toBe(OCI_INDEX);
    const unknown = await client.request('app/manifests/nope');
    expect(unknown.status).toBe(404);
    expect(await errorCode(unknown)).toBe('MANIFEST_UNKNOWN');
    const unknownBlob = await client.request(`app/blobs/${sha256('none')}`);
    expect(unknownBlob.status).toBe(404);
    expect(await errorCode(unknownBlob)).toBe('BLOB_UNKNOWN');
  });

  it('lists tags and the catalog in pages of n after last, with Link headers', async () => {
    for (const tag of ['v2', 'v3', 'v4', 'v5']) expect((await client.pushManifest('app', tag, image.manifest, OCI_MANIFEST)).status).toBe(201);
    const firstPage = await client.request('app/tags/list?n=2');
    expect(await firstPage.json()).toEqual({ name: 'app', tags: ['v1', 'v2'] });
    expect(firstPage.headers.get('link')).toBe('</spec/v2/app/tags/list?n=2&last=v2>; rel="next"');
    const second = await client.request(`${node.url}/spec/v2/app/tags/list?n=2&last=v2`);
    expect(((await second.json()) as { tags: string[] }).tags).toEqual(['v3', 'v4']);
    const last = await client.request('app/tags/list?n=2&last=v4');
    expect(((await last.json()) as { tags: string[] }).tags).toEqual(['v5']);
    expect(last.headers.get('link')).toBeNull();
    // A huge n is bounded, not an error; a malformed one is.
    const huge = await client.request('app/tags/list?n=999999999999');
    expect(huge.status).toBe(200);
    expect(((await huge.json()) as { tags: string[] }).tags).toHaveLength(5);
    const bad = await client.request('app/tags/list?n=-1');
    expect(bad.status).toBe(400);
    expect(await errorCode(bad)).toBe('PAGINATION_NUMBER_INVALID');
    const unknown = await client.request('never/pushed/tags/list');
    expect(unknown.status).toBe(404);
    expect(await errorCode(unknown)).toBe('NAME_UNKNOWN');

    await client.pushImage('zeta/img', 'latest', blobs, image);
    // The catalog lists what the caller may read: with a user's credentials, everything.
    const catalog = await fetch(`${node.url}/spec/v2/_catalog?n=1`, { headers: { authorization: basic('ci', PASSWORD) } });
    expect(await catalog.json()).toEqual({ repositories: ['app'] });
    expect(catalog.headers.get('link')).toBe('</spec/v2/_catalog?n=1&last=app>; rel="next"');
    const rest = await fetch(`${node.url}/spec/v2/_catalog?n=1000000000&last=app`, { headers: { authorization: basic('ci', PASSWORD) } });
    expect(((await rest.json()) as { repositories: string[] }).repositories).toEqual(['zeta/img']);
  });

  it('answers the referrers API with artifactType filtering, and OCI-Subject on pushes that name a subject', async () => {
    const signature = blobs.image({ layers: 1, label: 'sig', subject: image.descriptor, artifactType: 'application/vnd.example.signature', annotations: { who: 'ci' } });
    const sbom = blobs.image({ layers: 1, label: 'sbom', subject: image.descriptor, artifactType: 'application/spdx+json' });
    for (const artifact of [signature, sbom]) {
      const pushed = await client.pushImage('app', artifact.descriptor.digest, blobs, artifact);
      expect(pushed.status).toBe(201);
      expect(pushed.headers.get('oci-subject')).toBe(image.descriptor.digest);
    }
    const all = await client.request(`app/referrers/${image.descriptor.digest}`);
    expect(all.status).toBe(200);
    expect(all.headers.get('content-type')).toBe(OCI_INDEX);
    const listed = (await all.json()) as { mediaType: string; manifests: { digest: string; artifactType: string; annotations?: Record<string, string> }[] };
    expect(listed.mediaType).toBe(OCI_INDEX);
    expect(listed.manifests.map((m) => m.digest).sort()).toEqual([signature.descriptor.digest, sbom.descriptor.digest].sort());
    expect(listed.manifests.find((m) => m.digest === signature.descriptor.digest)).toMatchObject({ artifactType: 'application/vnd.example.signature', annotations: { who: 'ci' } });
    const filtered = await client.request(`app/referrers/${image.descriptor.digest}?artifactType=application/spdx%2Bjson`);
    expect(filtered.headers.get('oci-filters-applied')).toBe('artifactType');
    expect(((await filtered.json()) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest)).toEqual([sbom.descriptor.digest]);
    const none = await client.request(`app/referrers/${sha256('no subject')}`);
    expect(none.status).toBe(200);
    expect(((await none.json()) as { manifests: unknown[] }).manifests).toEqual([]);
    // Through the group too.
    const grouped = await fetch(`${node.url}/specg/v2/app/referrers/${image.descriptor.digest}`);
    expect(((await grouped.json()) as { manifests: unknown[] }).manifests).toHaveLength(2);
    // Deleting a referrer takes it out of the list.
    expect((await client.request(`app/manifests/${sbom.descriptor.digest}`, { method: 'DELETE' })).status).toBe(202);
    const after = await client.request(`app/referrers/${image.descriptor.digest}`);
    expect(((await after.json()) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest)).toEqual([signature.descriptor.digest]);
  });

  it('deletes tags, manifests and blobs', async () => {
    const own = blobs.image({ layers: 1, label: 'deleted' });
    expect((await client.pushImage('gone', 'a', blobs, own)).status).toBe(201);
    expect((await client.pushManifest('gone', 'b', own.manifest, OCI_MANIFEST)).status).toBe(201);
    expect((await client.request('gone/manifests/a', { method: 'DELETE' })).status).toBe(202);
    expect(((await (await client.request('gone/tags/list')).json()) as { tags: string[] }).tags).toEqual(['b']);
    expect((await client.request(`gone/manifests/${own.descriptor.digest}`, { method: 'DELETE' })).status).toBe(202);
    const manifest = await client.request('gone/manifests/b');
    expect(manifest.status).toBe(404);
    expect(await errorCode(manifest)).toBe('MANIFEST_UNKNOWN');
    const catalog = await fetch(`${node.url}/spec/v2/_catalog`, { headers: { authorization: basic('ci', PASSWORD) } });
    expect(((await catalog.json()) as { repositories: string[] }).repositories).not.toContain('gone');
    const layer = own.layers[0]!.digest;
    expect((await client.request(`gone/blobs/${layer}`, { method: 'DELETE' })).status).toBe(202);
    const blob = await client.request(`gone/blobs/${layer}`);
    expect(blob.status).toBe(404);
    expect(await errorCode(blob)).toBe('BLOB_UNKNOWN');
  });

  describe('hostile input', () => {
    /** What `app` holds, read back after every refusal. */
    async function state(): Promise<string> {
      const user = { authorization: basic('ci', PASSWORD) };
      const tags = await (await fetch(`${node.url}/spec/v2/app/tags/list`, { headers: user })).text();
      const catalog = await (await fetch(`${node.url}/spec/v2/_catalog`, { headers: user })).text();
      const manifest = await fetch(`${node.url}/spec/v2/app/manifests/v1`, { headers: { ...user, accept: OCI_MANIFEST } });
      return JSON.stringify({ tags, catalog, digest: manifest.headers.get('docker-content-digest'), body: sha256(Buffer.from(await manifest.arrayBuffer())) });
    }
    let before: string;
    beforeAll(async () => {
      before = await state();
    });

    async function refused(response: Response, status: number, code: string): Promise<void> {
      expect(response.status).toBe(status);
      expect(await errorCode(response)).toBe(code);
      expect(await state()).toBe(before);
    }

    const config = () => image.config;

    it('refuses a document that is both an index and a manifest, or whose Content-Type is not its mediaType', async () => {
      const both = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: config(), layers: image.layers, manifests: [image.descriptor] }));
      await refused(await client.pushManifest('app', 'v1', both, OCI_MANIFEST), 400, 'MANIFEST_INVALID');
      const noType = Buffer.from(JSON.stringify({ schemaVersion: 2, config: config(), layers: image.layers, manifests: [image.descriptor] }));
      await refused(await client.pushManifest('app', 'v1', noType, OCI_MANIFEST), 400, 'MANIFEST_INVALID');
      await refused(await client.pushManifest('app', 'v1', image.manifest, OCI_INDEX), 400, 'MANIFEST_INVALID');
      await refused(await client.pushManifest('app', 'v1', Buffer.from('{not json'), OCI_MANIFEST), 400, 'MANIFEST_INVALID');
    });

    it('refuses a manifest that references missing blobs, or a blob of another size', async () => {
      const missing = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: config(), layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256('absent'), size: 6 }] }));
      await refused(await client.pushManifest('app', 'v1', missing, OCI_MANIFEST), 400, 'MANIFEST_BLOB_UNKNOWN');
      const resized = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: config(), layers: [{ ...image.layers[0]!, size: image.layers[0]!.size + 1 }] }));
      await refused(await client.pushManifest('app', 'v1', resized, OCI_MANIFEST), 400, 'MANIFEST_INVALID');
      const childMissing = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: sha256('no manifest'), size: 11 }] }));
      await refused(await client.pushManifest('app', 'v1', childMissing, OCI_INDEX), 400, 'MANIFEST_BLOB_UNKNOWN');
    });

    it('refuses bytes that do not match their digest, for blobs and manifests', async () => {
      const data = randomBytes(500);
      const claimed = sha256('something else');
      await refused(await client.request(`app/blobs/uploads/?digest=${claimed}`, { method: 'POST', body: data, headers: { 'content-type': 'application/octet-stream' } }), 400, 'DIGEST_INVALID');
      expect((await client.request(`app/blobs/${claimed}`, { method: 'HEAD' })).status).toBe(404);
      const started = await client.request('app/blobs/uploads/', { method: 'POST' });
      await refused(await client.request(`${node.url}${started.headers.get('location')!}?digest=${claimed}`, { method: 'PUT', body: data, headers: { 'content-type': 'application/octet-stream' } }), 400, 'DIGEST_INVALID');
      await refused(await client.pushManifest('app', sha256('another manifest'), image.manifest, OCI_MANIFEST), 400, 'DIGEST_INVALID');
      await refused(await client.request('app/blobs/sha256:xyz'), 400, 'DIGEST_INVALID');
    });

    it('refuses invalid names and tags, an oversized manifest, an unknown upload, and a proxy push', async () => {
      await refused(await client.request('Bad/Name/manifests/v1', { headers: { accept: OCI_MANIFEST } }), 400, 'NAME_INVALID');
      await refused(await client.request('a..b/tags/list'), 400, 'NAME_INVALID');
      await refused(await client.pushManifest('app', '-bad', image.manifest, OCI_MANIFEST), 400, 'TAG_INVALID');
      await refused(await client.pushManifest('app', 'x'.repeat(129), image.manifest, OCI_MANIFEST), 400, 'TAG_INVALID');
      const huge = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
      await refused(await client.pushManifest('app', 'v1', huge, OCI_MANIFEST), 413, 'SIZE_INVALID');
      await refused(await client.request('app/blobs/uploads/no-such-upload'), 404, 'BLOB_UPLOAD_UNKNOWN');
      await refused(await client.request('app/blobs/uploads/no-such-upload', { method: 'PATCH', body: 'x' }), 404, 'BLOB_UPLOAD_UNKNOWN');
      // A session of another image is unknown here.
      const other = await client.request('zeta/img/blobs/uploads/', { method: 'POST' });
      const id = other.headers.get('docker-upload-uuid')!;
      await refused(await client.request(`app/blobs/uploads/${id}`), 404, 'BLOB_UPLOAD_UNKNOWN');
      const proxy = new OciClient(`${node.url}/pull-only/v2/`, { username: 'ci', password: PASSWORD });
      await refused(await proxy.request('app/blobs/uploads/', { method: 'POST' }), 405, 'UNSUPPORTED');
    });

    it('answers every DELETE with 405 where deletes are disabled', async () => {
      const keep = new OciClient(`${node.url}/keep/v2/`, { username: 'ci', password: PASSWORD });
      expect((await keep.pushImage('app', 'v1', blobs, image)).status).toBe(201);
      for (const rest of ['app/manifests/v1', `app/manifests/${image.descriptor.digest}`, `app/blobs/${image.layers[0]!.digest}`]) {
        const answer = await keep.request(rest, { method: 'DELETE' });
        expect(answer.status).toBe(405);
        expect(await errorCode(answer)).toBe('UNSUPPORTED');
      }
      expect((await keep.request('app/manifests/v1')).status).toBe(200);
      expect((await keep.request(`app/blobs/${image.layers[0]!.digest}`, { method: 'HEAD' })).status).toBe(200);
    });

    it('refuses a token used for another image, another action or another repository', async () => {
      const tokenFor = async (scope: string, auth?: string) => {
        const answer = await fetch(`${node.url}/spec/v2/token?service=x&scope=${encodeURIComponent(scope)}`, auth ? { headers: { authorization: auth } } : {});
        expect(answer.status).toBe(200);
        return (await answer.json()) as { token: string; scope: string };
      };
      const pullApp = await tokenFor('repository:app:pull');
      expect(pullApp.scope).toBe('repository:app:pull');
      const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
      expect((await fetch(`${node.url}/spec/v2/app/manifests/v1`, { headers: { ...bearer(pullApp.token), accept: OCI_MANIFEST } })).status).toBe(200);
      // Push with a pull token.
      const push = await fetch(`${node.url}/spec/v2/app/manifests/v9`, { method: 'PUT', body: image.manifest, headers: { ...bearer(pullApp.token), 'content-type': OCI_MANIFEST } });
      expect(push.status).toBe(401);
      expect(push.headers.get('www-authenticate')).toContain('scope="repository:app:pull,push"');
      expect(await errorCode(push)).toBe('UNAUTHORIZED');
      // Another image.
      const other = await fetch(`${node.url}/spec/v2/zeta/img/manifests/latest`, { headers: bearer(pullApp.token) });
      expect(other.status).toBe(401);
      // Another repository of the same registry.
      const elsewhere = await fetch(`${node.url}/keep/v2/app/manifests/v1`, { headers: bearer(pullApp.token) });
      expect(elsewhere.status).toBe(401);
      // An anonymous client asking for push is given pull alone.
      const anonymousPush = await tokenFor('repository:app:pull,push');
      expect(anonymousPush.scope).toBe('repository:app:pull');
      // A user's token with push does push; a forged one does nothing.
      const pushToken = await tokenFor('repository:app:pull,push', basic('ci', PASSWORD));
      expect(pushToken.scope).toBe('repository:app:pull,push');
      const forged = `${pushToken.token.slice(0, -4)}AAAA`;
      const withForged = await fetch(`${node.url}/spec/v2/app/manifests/v9`, { method: 'PUT', body: image.manifest, headers: { ...bearer(forged), 'content-type': OCI_MANIFEST } });
      expect(withForged.status).toBe(401);
      expect(await state()).toBe(before);
      const pushed = await fetch(`${node.url}/spec/v2/app/manifests/v9`, { method: 'PUT', body: image.manifest, headers: { ...bearer(pushToken.token), 'content-type': OCI_MANIFEST } });
      expect(pushed.status).toBe(201);
      expect((await client.request('app/manifests/v9', { method: 'DELETE' })).status).toBe(202);
      expect(await state()).toBe(before);
    });
  });
});
