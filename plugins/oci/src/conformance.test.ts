import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeFormatConformance, type ConformanceAnswer, type ConformancePackage, type ConformanceTarget, type FormatConformanceAdapter, type HostileRequest } from '@registry-core/testing';

// The kernel's group contract on OCI, through the distribution API as docker and skopeo
// speak it, under the repository's own path (`<repositoryUrl>v2/<image>/...`). A package is
// an image, a version a tag; a publish pushes a one-layer image (the layer a tiny tar of the
// package's content, a config naming it, a manifest by tag).
const plugin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
const LAYER = 'application/vnd.oci.image.layer.v1.tar';
const CONFIG = 'application/vnd.oci.image.config.v1+json';

const sha256 = (bytes: Buffer | string) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** A ustar archive of one file (the same input, the same bytes). */
function tar(name: string, data: Buffer): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148); // the checksum counts itself as spaces
  header.write('0', 156);
  header.write('ustar\0' + '00', 257);
  const sum = header.reduce((total, byte) => total + byte, 0);
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const padding = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([header, data, padding, Buffer.alloc(1024)]);
}

/** The image's one layer: what readArtifact serves. */
const layer = (pkg: ConformancePackage) => tar('content.txt', pkg.content);

function image(pkg: ConformancePackage): { layer: Buffer; config: Buffer; manifest: Buffer } {
  const bytes = layer(pkg);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(bytes)] }, config: {} }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST,
      config: { mediaType: CONFIG, digest: sha256(config), size: config.length },
      layers: [{ mediaType: LAYER, digest: sha256(bytes), size: bytes.length }],
    }),
  );
  return { layer: bytes, config, manifest };
}

/** An image name in a URL path: each component escaped, as a client that sends what it is given. */
const namePath = (name: string) => name.split('/').map(encodeURIComponent).join('/');
const api = (target: ConformanceTarget, name: string, rest: string) => `${target.repositoryUrl}v2/${namePath(name)}/${rest}`;

/**
 * Basic credentials on each request (a registry-core token as the password of `__token__`),
 * as docker and skopeo send them to a registry that accepts them; none without a token.
 * Not the Bearer token flow: an access token through a group answers 401, not 403, where a
 * member refuses the writer (the token holds no grant for that member), so a refused write
 * could not be told from a missing login.
 */
const authorization = (target: ConformanceTarget): Record<string, string> =>
  target.token ? { authorization: `Basic ${Buffer.from(`__token__:${target.token}`).toString('base64')}` } : {};

/** A monolithic upload: POST a session, PUT the bytes with their digest. */
async function pushBlob(target: ConformanceTarget, name: string, auth: Record<string, string>, bytes: Buffer): Promise<Response> {
  const start = await fetch(api(target, name, 'blobs/uploads/'), { method: 'POST', headers: auth });
  await start.arrayBuffer();
  const location = start.headers.get('location');
  if (start.status !== 202 || !location) return start;
  const url = new URL(location, target.repositoryUrl);
  url.searchParams.set('digest', sha256(bytes));
  const put = await fetch(url, { method: 'PUT', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: bytes });
  await put.arrayBuffer();
  return put;
}

const get = (url: string, target: ConformanceTarget, accept?: string) => fetch(url, { headers: { ...authorization(target), ...(accept ? { accept } : {}) } });

const oci: FormatConformanceAdapter = {
  name: 'oci',
  plugin,
  format: 'oci',
  // Images in a namespace: the name's `/` is on every path the suite sends.
  packageName: (base) => `conformance/${base}`,
  // `rc-a/rc-b` is a valid image name: the suite misplaces slashes instead.
  slashInNames: true,
  artifact: layer,
  async publish(target, pkg): Promise<ConformanceAnswer> {
    const { layer: bytes, config, manifest } = image(pkg);
    const auth = authorization(target);
    for (const blob of [bytes, config]) {
      const pushed = await pushBlob(target, pkg.name, auth, blob);
      if (pushed.status !== 201) return pushed;
    }
    const put = await fetch(api(target, pkg.name, `manifests/${encodeURIComponent(pkg.version)}`), { method: 'PUT', headers: { ...auth, 'content-type': MANIFEST }, body: manifest });
    await put.arrayBuffer();
    return put;
  },
  async readVersions(target, name) {
    const response = await get(api(target, name, 'tags/list'), target);
    if (response.status !== 200) {
      await response.arrayBuffer();
      return { status: response.status, headers: response.headers };
    }
    const list = (await response.json()) as { name?: string; tags?: string[] | null };
    if (list.name !== name) throw new Error(`the tag list of ${name} names ${list.name}`);
    return { status: 200, headers: response.headers, versions: list.tags ?? [] };
  },
  async readArtifact(target, name, version) {
    const manifest = await get(api(target, name, `manifests/${encodeURIComponent(version)}`), target, `${MANIFEST}, ${INDEX}`);
    if (manifest.status !== 200) {
      await manifest.arrayBuffer();
      return { status: manifest.status, headers: manifest.headers };
    }
    const body = Buffer.from(await manifest.arrayBuffer());
    if (manifest.headers.get('docker-content-digest') !== sha256(body)) throw new Error(`manifest ${name}:${version}: Docker-Content-Digest ${manifest.headers.get('docker-content-digest')} is not ${sha256(body)}`);
    const { layers } = JSON.parse(body.toString('utf8')) as { layers: { digest: string }[] };
    const blob = await get(api(target, name, `blobs/${layers[0]!.digest}`), target);
    const bytes = Buffer.from(await blob.arrayBuffer());
    if (blob.status === 200 && sha256(bytes) !== layers[0]!.digest) throw new Error(`blob ${layers[0]!.digest} of ${name} served other bytes`);
    return { status: blob.status, headers: blob.headers, ...(blob.status === 200 ? { bytes } : {}) };
  },
  // A proxy's upstream is a registry v2 root: a registry-core repository's own path is one.
  upstreamUrl: (repositoryUrl) => repositoryUrl,
  hostileRequests: ({ repository, group, token }) => {
    const bearer = { authorization: `Bearer ${token}` };
    const hostile = { name: 'conformance/rc-hostile', version: '1.0.0', content: Buffer.from('hostile') };
    const { layer: bytes, config } = image(hostile);
    const missing = sha256('a blob nobody pushed');
    // An index of no manifests references nothing: where only its tag or digest is wrong, that alone must refuse it.
    const emptyIndex = JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: [] });
    const withMissingBlob = JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST,
      config: { mediaType: CONFIG, digest: sha256(config), size: config.length },
      layers: [{ mediaType: LAYER, digest: missing, size: 20 }],
    });
    const withMissingChild = JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: [{ mediaType: MANIFEST, digest: missing, size: 20 }] });
    const manifestPut = (label: string, root: string, image: string, reference: string, body: string, contentType = INDEX): HostileRequest => ({
      label,
      method: 'PUT',
      path: `${root}/${image}/manifests/${reference}`,
      headers: { ...bearer, 'content-type': contentType },
      body,
    });
    return [repository, group].flatMap((repo) => {
      const roots = [`/${repo}/v2`, `/v2/${repo}`];
      return roots.flatMap((root) => [
        manifestPut(`a manifest naming a blob that does not exist, in ${root}`, root, 'conformance/rc-hostile', '1.0.0', withMissingBlob, MANIFEST),
        manifestPut(`an index naming a manifest that does not exist, in ${root}`, root, 'conformance/rc-hostile', '1.0.0', withMissingChild),
        manifestPut(`a manifest by a digest that is not its own, in ${root}`, root, 'conformance/rc-hostile', sha256('other bytes'), emptyIndex),
        manifestPut(`a manifest whose Content-Type is not its mediaType, in ${root}`, root, 'conformance/rc-hostile', '1.0.0', emptyIndex, MANIFEST),
        {
          label: `a blob whose bytes do not match its digest, in ${root}`,
          method: 'POST',
          path: `${root}/conformance/rc-hostile/blobs/uploads/?digest=${sha256('other bytes')}`,
          headers: { ...bearer, 'content-type': 'application/octet-stream' },
          body: bytes,
        },
        ...[
          ['a leading dot', '.rc-tag'],
          ['a leading dash', '-rc-tag'],
          ['encoded dot-dot', '%2e%2e'],
          ['a space', 'rc%20tag'],
          ['a newline', 'rc%0atag'],
          ['a NUL byte', 'rc%00tag'],
          ['an encoded slash', 'rc%2ftag'],
          ['129 characters', 'r'.repeat(129)],
        ].map(([what, tag]) => manifestPut(`a tag with ${what}, in ${root}`, root, 'conformance/rc-hostile', tag!, emptyIndex)),
        ...[
          ['a dot-dot component', 'conformance/../rc-hostile'],
          ['an encoded dot-dot component', 'conformance/%2e%2e/rc-hostile'],
          ['a dot-dot in a component', 'conformance/rc..hostile'],
          ['an upper-case letter', 'conformance/RC-hostile'],
          ['an empty component', 'conformance//rc-hostile'],
          ['256 characters', `conformance/${'r'.repeat(244)}`],
        ].flatMap(([what, name]) => [
          manifestPut(`a name with ${what}: push a manifest, in ${root}`, root, name!, '1.0.0', emptyIndex),
          { label: `a name with ${what}: start an upload, in ${root}`, method: 'POST', path: `${root}/${name}/blobs/uploads/?digest=${sha256(bytes)}`, headers: { ...bearer, 'content-type': 'application/octet-stream' }, body: bytes },
          { label: `a name with ${what}: read its tags, in ${root}`, method: 'GET', path: `${root}/${name}/tags/list`, headers: bearer },
        ]),
        // Refused for want of a login: the challenge must not carry the name's bytes into a header.
        ...[
          ['a NUL byte', 'conformance/rc%00hostile'],
          ['a line break', 'conformance/rc%0d%0aX-Injected:%20yes'],
        ].map(([what, name]): HostileRequest => ({ label: `an anonymous push to a name with ${what}, in ${root}`, method: 'POST', path: `${root}/${name}/blobs/uploads/` })),
      ]);
    });
  },
};

describeFormatConformance(oci);
