import type { ExpectedDigests } from '@registry-core/api';

/**
 * Digests to verify a tarball against, from a version's `dist`: every `sha512`/`sha1`
 * entry of the SRI `integrity` (several may be listed) and the `shasum` (sha1 hex).
 * Undefined when the metadata announces nothing usable.
 */
export function expectedFromDist(dist: { integrity?: unknown; shasum?: unknown } | undefined): ExpectedDigests | undefined {
  const expect: { sha512?: string; sha1?: string; sha256?: string } = {};
  if (typeof dist?.integrity === 'string') {
    for (const entry of dist.integrity.trim().split(/\s+/)) {
      const m = /^(sha512|sha256|sha1)-([A-Za-z0-9+/=]+)(\?.*)?$/.exec(entry);
      if (!m) continue;
      const hex = Buffer.from(m[2]!, 'base64').toString('hex');
      const algorithm = m[1] as 'sha512' | 'sha256' | 'sha1';
      expect[algorithm] ??= hex;
    }
  }
  if (typeof dist?.shasum === 'string' && /^[0-9a-f]{40}$/i.test(dist.shasum)) expect.sha1 ??= dist.shasum.toLowerCase();
  return Object.keys(expect).length > 0 ? expect : undefined;
}

/** SRI string for a sha512 hex digest. */
export function sriFromHex(sha512Hex: string): string {
  return `sha512-${Buffer.from(sha512Hex, 'hex').toString('base64')}`;
}
