import { BadRequestError } from '@registry-core/api';

/** OCI error codes (distribution-spec), carried as the kernel error's `code`. */
export type OciErrorCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS'
  | 'TAG_INVALID'
  | 'PAGINATION_NUMBER_INVALID';

const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
/** Names longer than this are refused (distribution's limit). */
export const MAX_NAME_LENGTH = 255;

/** A digest the registry can verify: sha256 or sha512, lower-case hex. */
export interface Digest {
  readonly algorithm: 'sha256' | 'sha512';
  readonly hex: string;
  /** `<algorithm>:<hex>` */
  readonly text: string;
}

/** The image name from a route's wildcard segments, validated against the OCI grammar. */
export function imageName(segments: string | readonly string[] | undefined): string {
  const parts = typeof segments === 'string' ? segments.split('/') : [...(segments ?? [])];
  const name = parts.join('/');
  if (parts.length === 0 || name.length > MAX_NAME_LENGTH || !parts.every((p) => COMPONENT.test(p))) {
    throw new BadRequestError(`invalid repository name ${JSON.stringify(name.slice(0, 300))}: components of lower-case letters and digits separated by . _ __ or -`, 'NAME_INVALID');
  }
  return name;
}

export function isDigest(reference: string): boolean {
  return reference.includes(':');
}

/** Parse a digest; 400 DIGEST_INVALID for anything but a well-formed sha256 or sha512. */
export function parseDigest(text: string | null | undefined): Digest {
  if (!text || !DIGEST.test(text)) throw new BadRequestError(`invalid digest ${JSON.stringify(String(text ?? '').slice(0, 200))}: sha256:<64 hex> or sha512:<128 hex>`, 'DIGEST_INVALID');
  const [algorithm, hex] = text.split(':') as ['sha256' | 'sha512', string];
  return { algorithm, hex, text };
}

export function checkTag(tag: string): string {
  if (!TAG.test(tag)) throw new BadRequestError(`invalid tag ${JSON.stringify(tag.slice(0, 200))}`, 'TAG_INVALID');
  return tag;
}

/** Asset paths: name components never start with `_`, so these cannot collide with names. */
export const paths = {
  blob: (image: string, digest: Digest) => `${image}/_blobs/${digest.algorithm}/${digest.hex}`,
  blobs: (image: string) => `${image}/_blobs/`,
  manifest: (image: string, digest: Digest) => `${image}/_manifests/${digest.algorithm}/${digest.hex}`,
  manifests: (image: string) => `${image}/_manifests/`,
  /** Proxy: the upstream's answer for a tag (metadata, revalidated). */
  tagCache: (image: string, tag: string) => `${image}/_tags/${tag}`,
  /** Proxy: the upstream's tag list. */
  tagListCache: (image: string) => `${image}/_taglist`,
  referrersCache: (image: string, digest: Digest) => `${image}/_referrers/${digest.algorithm}/${digest.hex}`,
};

/** Document keys. */
export const documents = {
  tags: (image: string) => `tags:${image}`,
  referrers: (image: string, digest: Digest) => `referrers:${image}@${digest.text}`,
  catalog: 'catalog',
};

/** Digest from an asset path written by {@link paths}. */
export function digestOfPath(assetPath: string): Digest | undefined {
  const m = /\/_(?:blobs|manifests)\/(sha256|sha512)\/([a-f0-9]+)$/.exec(assetPath);
  if (!m) return undefined;
  try {
    return parseDigest(`${m[1]}:${m[2]}`);
  } catch {
    return undefined;
  }
}
