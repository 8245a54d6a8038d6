import { createHash } from 'node:crypto';
import { describeCrashPoints, type CrashPackage, type CrashTarget } from '@registry-core/testing';
import { cliBin } from '../helpers/registry-process.js';

// What skopeo and docker send for a push: each blob is looked for (HEAD), then uploaded in
// a session (POST, PATCH with the bytes, PUT with the digest), then the manifest is PUT
// under its tag. The harness kills the registry at each write of that sequence; the tag is
// the version, the manifest is the artifact (blobs are content-addressed and may exist
// before any manifest names them, as the distribution spec allows), and the retry is the
// whole push again, as a second `skopeo copy` sends it.
const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const auth = (target: CrashTarget): Record<string, string> => (target.token ? { authorization: `Bearer ${target.token}` } : {});
const v2 = (target: CrashTarget, name: string) => `${target.repositoryUrl}v2/${name}/`;

function image(pkg: CrashPackage) {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(pkg.content)] } }));
  const layer = pkg.content;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
    }),
  );
  return { blobs: [config, layer], manifest };
}

async function pushBlob(target: CrashTarget, name: string, blob: Buffer) {
  const digest = sha256(blob);
  const head = await fetch(`${v2(target, name)}blobs/${digest}`, { method: 'HEAD', headers: auth(target) });
  if (head.status === 200) return { ok: true, status: 200 };
  const started = await fetch(`${v2(target, name)}blobs/uploads/`, { method: 'POST', headers: auth(target) });
  await started.arrayBuffer();
  if (started.status !== 202) return { ok: false, status: started.status, detail: 'POST blobs/uploads/' };
  const location = new URL(started.headers.get('location')!, target.url);
  const patched = await fetch(location, { method: 'PATCH', headers: { ...auth(target), 'content-type': 'application/octet-stream' }, body: blob });
  await patched.arrayBuffer();
  if (patched.status !== 202) return { ok: false, status: patched.status, detail: 'PATCH' };
  const done = new URL(patched.headers.get('location')!, target.url);
  done.searchParams.set('digest', digest);
  const put = await fetch(done, { method: 'PUT', headers: auth(target) });
  return { ok: put.status === 201, status: put.status, detail: `PUT ?digest: ${await put.text()}` };
}

describeCrashPoints({
  name: 'oci',
  cli: cliBin,
  format: 'oci',
  async publish(target, pkg) {
    const { blobs, manifest } = image(pkg);
    for (const blob of blobs) {
      const result = await pushBlob(target, pkg.name, blob);
      if (!result.ok) return result;
    }
    const response = await fetch(`${v2(target, pkg.name)}manifests/${pkg.version}`, { method: 'PUT', headers: { ...auth(target), 'content-type': MANIFEST_TYPE }, body: manifest });
    return { ok: response.status === 201, status: response.status, detail: `PUT manifest: ${await response.text()}` };
  },
  async readVersions(target, name) {
    const response = await fetch(`${v2(target, name)}tags/list`, { headers: auth(target) });
    if (response.status !== 200) {
      await response.arrayBuffer();
      // The spec's "no such repository" is a 404 with NAME_UNKNOWN; every other status is reported.
      return { status: response.status };
    }
    return { status: 200, versions: ((await response.json()) as { tags?: string[] | null }).tags ?? [] };
  },
  async readArtifact(target, name, version) {
    const response = await fetch(`${v2(target, name)}manifests/${version}`, { headers: { ...auth(target), accept: MANIFEST_TYPE } });
    return { status: response.status, bytes: Buffer.from(await response.arrayBuffer()) };
  },
  artifact: (pkg) => image(pkg).manifest,
});
