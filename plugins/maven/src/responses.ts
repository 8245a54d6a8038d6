import { createHash } from 'node:crypto';
import type { Digests, FormatResponse } from '@registry-core/api';
import type { ChecksumAlgorithm } from './paths.js';

const TEXT = 'text/plain; charset=utf-8';
/** Content type of a checksum sidecar. */
export const CHECKSUM_TYPE = TEXT;
/** Content type of metadata the repository renders. */
export const XML_TYPE = 'text/xml; charset=utf-8';

/** A sidecar checksum as Maven reads it: the bare hex digest. */
export function checksumResponse(hex: string, cachePolicy: FormatResponse['cachePolicy'] = 'metadata'): FormatResponse {
  return { body: { kind: 'text', value: hex, contentType: TEXT }, cachePolicy };
}

/** A plain-text answer (deploy acknowledgements). */
export function textResponse(status: number, text: string): FormatResponse {
  return { status, body: { kind: 'text', value: `${text}\n`, contentType: TEXT }, cachePolicy: 'no-store' };
}

/** Every digest of an in-memory document, as the kernel computes them for stored files. */
export function digestsOf(bytes: Buffer | string): Digests {
  const hash = (algorithm: string) => createHash(algorithm).update(bytes).digest('hex');
  return { md5: hash('md5'), sha1: hash('sha1'), sha256: hash('sha256'), sha512: hash('sha512') };
}

export function digestOf(bytes: Buffer | string, algorithm: ChecksumAlgorithm): string {
  return createHash(algorithm).update(bytes).digest('hex');
}

/** Content type of a repository file by its name. */
export function contentTypeOf(filename: string): string {
  if (/\.(md5|sha1|sha256|sha512|asc)$/.test(filename)) return TEXT;
  if (/\.(pom|xml)$/.test(filename)) return 'text/xml';
  if (/\.(jar|war|ear|aar)$/.test(filename)) return 'application/java-archive';
  if (filename.endsWith('.zip')) return 'application/zip';
  if (/\.(tar\.gz|tgz)$/.test(filename)) return 'application/gzip';
  if (filename.endsWith('.module') || filename.endsWith('.json')) return 'application/json';
  return 'application/octet-stream';
}

/** The digest in a sidecar's body: the first token, when it is hex of the right length. */
export function sidecarDigest(body: string, length: number): string | undefined {
  const token = body.trim().split(/\s+/)[0] ?? '';
  return new RegExp(`^[0-9a-fA-F]{${length}}$`).test(token) ? token.toLowerCase() : undefined;
}
