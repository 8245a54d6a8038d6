import { createHash } from 'node:crypto';
import { BadRequestError } from '@registry-core/api';
import { parseDigest, type Digest } from './names.js';

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

const INDEX_TYPES = new Set<string>([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList]);
const MANIFEST_TYPES = new Set<string>([MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest]);
/** Every manifest type served, for upstream Accept headers. */
export const ACCEPTED_MANIFEST_TYPES = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerList, MEDIA_TYPES.dockerManifest].join(', ');
/** Largest manifest accepted (distribution's default is 4 MiB too). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** A content descriptor as a manifest references it. */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Record<string, string>;
  readonly platform?: Record<string, unknown>;
  /** Foreign layers (Windows base layers) live elsewhere: never required to be pushed. */
  readonly foreign: boolean;
}

/** What the registry knows of a pushed manifest. */
export interface ParsedManifest {
  readonly mediaType: string;
  readonly kind: 'index' | 'manifest';
  /** Blobs it needs (config and layers) for a manifest; child manifests for an index. */
  readonly references: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly artifactType?: string;
  readonly annotations?: Record<string, string>;
  readonly configMediaType?: string;
}

function invalid(message: string): never {
  throw new BadRequestError(`manifest invalid: ${message}`, 'MANIFEST_INVALID');
}

function descriptor(value: unknown, where: string): Descriptor {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) invalid(`${where} must be a descriptor object`);
  const d = value as Record<string, unknown>;
  if (typeof d['mediaType'] !== 'string' || d['mediaType'].length > 255) invalid(`${where}.mediaType must be a string`);
  if (typeof d['digest'] !== 'string') invalid(`${where}.digest must be a string`);
  if (!Number.isSafeInteger(d['size']) || (d['size'] as number) < 0) invalid(`${where}.size must be a non-negative integer`);
  let digest: Digest;
  try {
    digest = parseDigest(d['digest']);
  } catch {
    invalid(`${where}.digest ${JSON.stringify(String(d['digest']).slice(0, 150))} is not a sha256 or sha512 digest`);
  }
  const mediaType = d['mediaType'] as string;
  return {
    mediaType,
    digest,
    size: d['size'] as number,
    ...(typeof d['artifactType'] === 'string' ? { artifactType: d['artifactType'] } : {}),
    ...(isStringMap(d['annotations']) ? { annotations: d['annotations'] } : {}),
    ...(typeof d['platform'] === 'object' && d['platform'] !== null ? { platform: d['platform'] as Record<string, unknown> } : {}),
    foreign: /\.foreign\.|nondistributable/.test(mediaType) && Array.isArray(d['urls']),
  };
}

function isStringMap(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
}

/**
 * Parse and check a pushed manifest: JSON, a known manifest or index type that agrees
 * with the request's Content-Type, never both an index and a manifest (CVE-2021-41190),
 * descriptors well formed. Resolves what the registry records about it.
 */
export function parseManifest(bytes: Buffer, contentType: string | undefined): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    invalid('not JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) invalid('not a JSON object');
  const m = doc as Record<string, unknown>;
  if (m['schemaVersion'] !== 2) invalid('schemaVersion must be 2 (schema 1 manifests are not accepted)');
  const declared = typeof m['mediaType'] === 'string' ? m['mediaType'] : undefined;
  const header = contentType?.split(';')[0]?.trim().toLowerCase() || undefined;
  const generic = header === undefined || header === 'application/json' || header === 'application/octet-stream';
  if (declared !== undefined && !generic && declared !== header) invalid(`the Content-Type ${header} differs from the manifest's mediaType ${declared}`);
  const hasManifests = 'manifests' in m;
  const hasLayers = 'layers' in m || 'config' in m;
  if (hasManifests && hasLayers) invalid('a document with both "manifests" and "layers"/"config" is ambiguous');
  const mediaType = declared ?? (generic ? (hasManifests ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest) : header!);
  if (!INDEX_TYPES.has(mediaType) && !MANIFEST_TYPES.has(mediaType)) invalid(`unsupported manifest media type ${mediaType.slice(0, 120)}`);
  const kind = INDEX_TYPES.has(mediaType) ? 'index' : 'manifest';
  if (kind === 'index' && hasLayers) invalid(`${mediaType} has "layers" or "config"`);
  if (kind === 'manifest' && hasManifests) invalid(`${mediaType} has "manifests"`);
  if (mediaType.startsWith('application/vnd.docker.') && declared === undefined) invalid('a Docker manifest must state its mediaType');
  const references: Descriptor[] = [];
  let configMediaType: string | undefined;
  if (kind === 'index') {
    if (!Array.isArray(m['manifests'])) invalid('"manifests" must be an array');
    (m['manifests'] as unknown[]).forEach((d, i) => references.push(descriptor(d, `manifests[${i}]`)));
  } else {
    const config = descriptor(m['config'], 'config');
    configMediaType = config.mediaType;
    references.push(config);
    if (!Array.isArray(m['layers'])) invalid('"layers" must be an array');
    (m['layers'] as unknown[]).forEach((d, i) => references.push(descriptor(d, `layers[${i}]`)));
  }
  if (m['artifactType'] !== undefined && typeof m['artifactType'] !== 'string') invalid('artifactType must be a string');
  return {
    mediaType,
    kind,
    references,
    ...(m['subject'] !== undefined ? { subject: descriptor(m['subject'], 'subject') } : {}),
    ...(typeof m['artifactType'] === 'string' ? { artifactType: m['artifactType'] } : {}),
    ...(isStringMap(m['annotations']) ? { annotations: m['annotations'] } : {}),
    ...(configMediaType !== undefined ? { configMediaType } : {}),
  };
}

/** The digest of `bytes` with the given algorithm. */
export function digestOf(bytes: Buffer, algorithm: 'sha256' | 'sha512' = 'sha256'): Digest {
  return parseDigest(`${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`);
}
