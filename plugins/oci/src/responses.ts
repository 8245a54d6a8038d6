import { RegistryError, type FormatRequestContext, type FormatResponse } from '@registry-core/api';
import type { Digest } from './names.js';

/** An error answered with an OCI code (the kernel maps its status; the body names the code). */
export function ociError(code: string, message: string, status: number, headers?: Record<string, string>): RegistryError {
  return new RegistryError(code, message, status, headers ? { headers } : undefined);
}

/** 405 UNSUPPORTED. */
export function unsupported(message: string): RegistryError {
  return ociError('UNSUPPORTED', message, 405);
}

/** The path (no origin) of the protocol root as this client addresses it, with a trailing slash. */
export function rootPath(ctx: FormatRequestContext): string {
  const url = ctx.hostRoot?.url ?? `${ctx.baseUrl}v2/`;
  return new URL(url).pathname;
}

export function blobLocation(ctx: FormatRequestContext, image: string, digest: Digest): string {
  return `${rootPath(ctx)}${image}/blobs/${digest.text}`;
}

export function manifestLocation(ctx: FormatRequestContext, image: string, digest: Digest): string {
  return `${rootPath(ctx)}${image}/manifests/${digest.text}`;
}

export function uploadLocation(ctx: FormatRequestContext, image: string, id: string): string {
  return `${rootPath(ctx)}${image}/blobs/uploads/${id}`;
}

/** 202 with the headers every upload step answers with. */
export function uploadAccepted(ctx: FormatRequestContext, image: string, id: string, size: number, status = 202): FormatResponse {
  return {
    status,
    headers: {
      Location: uploadLocation(ctx, image, id),
      Range: `0-${Math.max(0, size - 1)}`,
      'Docker-Upload-UUID': id,
      'Content-Length': '0',
    },
    cachePolicy: 'no-store',
  };
}

/** The image index of referrers the API answers with. */
export function referrersIndex(descriptors: readonly Record<string, unknown>[], filtered: boolean): FormatResponse {
  return {
    body: {
      kind: 'text',
      value: JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: descriptors }),
      contentType: 'application/vnd.oci.image.index.v1+json',
    },
    headers: filtered ? { 'OCI-Filters-Applied': 'artifactType' } : {},
    cachePolicy: 'no-store',
  };
}

/** `n` and `last` of a listing: `n` bounded to `max` (larger asks get `max`). */
export function pageParams(query: URLSearchParams, max: number): { n: number; last: string | undefined } {
  const raw = query.get('n');
  let n = max;
  if (raw !== null && raw !== '') {
    if (!/^\d{1,12}$/.test(raw)) throw ociError('PAGINATION_NUMBER_INVALID', `n must be a non-negative integer, not ${JSON.stringify(raw.slice(0, 40))}`, 400);
    n = Math.min(Number(raw), max);
  }
  const last = query.get('last') ?? undefined;
  return { n, last: last === '' ? undefined : last };
}

/** One page of a sorted list, with the Link header to the next. */
export function page(items: readonly string[], n: number, last: string | undefined, nextUrl: (last: string) => string): { items: string[]; headers: Record<string, string> } {
  const sorted = [...new Set(items)].sort();
  const after = last === undefined ? sorted : sorted.filter((t) => t > last);
  const slice = after.slice(0, n);
  const headers: Record<string, string> = {};
  if (after.length > n && slice.length > 0) headers['Link'] = `<${nextUrl(slice[slice.length - 1]!)}>; rel="next"`;
  return { items: slice, headers };
}
