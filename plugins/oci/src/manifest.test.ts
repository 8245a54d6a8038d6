import { describe, expect, it } from 'vitest';
import { isRegistryError } from '@registry-core/api';
import { MEDIA_TYPES, digestOf, parseManifest } from './manifest.js';
import { checkTag, imageName, parseDigest } from './names.js';
import { scopesToGrants } from './oci-format.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const manifest = (extra: Record<string, unknown> = {}) => ({
  schemaVersion: 2,
  mediaType: MEDIA_TYPES.ociManifest,
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d('a'), size: 2 },
  layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('b'), size: 10 }],
  ...extra,
});
const bytes = (value: unknown) => Buffer.from(JSON.stringify(value));

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (error) {
    return isRegistryError(error) ? error.code : String(error);
  }
}

describe('OCI manifests', () => {
  it('reads an image manifest, its references, subject and artifact type', () => {
    const m = parseManifest(bytes(manifest({ subject: { mediaType: MEDIA_TYPES.ociManifest, digest: d('c'), size: 5 }, artifactType: 'application/x-sig' })), MEDIA_TYPES.ociManifest);
    expect(m.kind).toBe('manifest');
    expect(m.references.map((r) => r.digest.text)).toEqual([d('a'), d('b')]);
    expect(m.subject?.digest.text).toBe(d('c'));
    expect(m.artifactType).toBe('application/x-sig');
  });

  it('reads indexes and Docker lists, and takes the type from the body when the header is generic', () => {
    const index = { schemaVersion: 2, mediaType: MEDIA_TYPES.dockerList, manifests: [{ mediaType: MEDIA_TYPES.dockerManifest, digest: d('e'), size: 3, platform: { os: 'linux', architecture: 'arm64' } }] };
    expect(parseManifest(bytes(index), MEDIA_TYPES.dockerList).kind).toBe('index');
    const { mediaType: _drop, ...untyped } = manifest();
    expect(parseManifest(bytes(untyped), 'application/json').mediaType).toBe(MEDIA_TYPES.ociManifest);
  });

  it('refuses ambiguous and malformed documents with MANIFEST_INVALID', () => {
    const cases: [string, Buffer, string][] = [
      ['both an index and a manifest (CVE-2021-41190)', bytes({ ...manifest(), manifests: [] }), MEDIA_TYPES.ociManifest],
      ['Content-Type differs from mediaType', bytes(manifest()), MEDIA_TYPES.ociIndex],
      ['not JSON', Buffer.from('{nope'), MEDIA_TYPES.ociManifest],
      ['schema 1', bytes({ ...manifest(), schemaVersion: 1 }), MEDIA_TYPES.ociManifest],
      ['bad digest', bytes(manifest({ layers: [{ mediaType: 'x', digest: 'sha256:xyz', size: 1 }] })), MEDIA_TYPES.ociManifest],
      ['negative size', bytes(manifest({ layers: [{ mediaType: 'x', digest: d('f'), size: -1 }] })), MEDIA_TYPES.ociManifest],
      ['unknown type', bytes({ ...manifest(), mediaType: 'text/html' }), 'text/html'],
      ['an index with layers', bytes({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, layers: [] }), MEDIA_TYPES.ociIndex],
    ];
    for (const [what, body, type] of cases) expect(codeOf(() => parseManifest(body, type)), what).toBe('MANIFEST_INVALID');
  });

  it('checks names, tags and digests against the grammar', () => {
    expect(imageName(['library', 'nginx'])).toBe('library/nginx');
    for (const bad of [['Upper'], ['..'], ['a', ''], ['-a'], ['a_'], ['x'.repeat(256)]]) expect(codeOf(() => imageName(bad))).toBe('NAME_INVALID');
    expect(codeOf(() => checkTag('v1.0_rc-1'))).toBe('ok');
    for (const bad of ['-x', '.x', 'a'.repeat(129), 'a/b', '']) expect(codeOf(() => checkTag(bad))).toBe('TAG_INVALID');
    expect(parseDigest(`sha512:${'a'.repeat(128)}`).algorithm).toBe('sha512');
    for (const bad of ['sha256:totallywrong', `md5:${'a'.repeat(32)}`, `sha256:${'A'.repeat(64)}`]) expect(codeOf(() => parseDigest(bad))).toBe('DIGEST_INVALID');
    expect(digestOf(Buffer.from('')).text).toBe('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('turns token scopes into grants, the first segment naming the repository at the host root', () => {
    expect(scopesToGrants(['repository:oci-local/team/app:pull,push', 'repository:other/x:*', 'registry:catalog:*', 'repository:bad:pull'], 'oci', 'oci/')).toEqual([
      { repository: 'oci-local', package: 'team/app', actions: ['read', 'write'] },
      { repository: 'other', package: 'x', actions: ['read', 'write', 'delete'] },
    ]);
    expect(scopesToGrants(['repository:library/nginx:pull repository:Bad/Name:pull'], 'mirror', '')).toEqual([{ repository: 'mirror', package: 'library/nginx', actions: ['read'] }]);
  });
});
