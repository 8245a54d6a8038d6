import { BadRequestError } from '@registry-core/api';

/** A NuGet version, parsed (NuGetVersion's rules: 2 to 4 numbers, SemVer 2.0.0 labels and metadata). */
export interface NuGetVersion {
  readonly numbers: readonly [number, number, number, number];
  /** Prerelease labels, as written (compared case-insensitively). */
  readonly release: readonly string[];
  /** Build metadata after `+`, as written; never part of identity. */
  readonly metadata?: string;
}

const PATTERN = /^(\d{1,9})\.(\d{1,9})(?:\.(\d{1,9}))?(?:\.(\d{1,9}))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

/** Parse a version, `undefined` when it is not one NuGet accepts. */
export function parseVersion(text: string): NuGetVersion | undefined {
  if (text.length > 64) return undefined;
  const m = PATTERN.exec(text.trim());
  if (!m) return undefined;
  const release = m[5] ? m[5].split('.') : [];
  // SemVer 2.0.0: numeric labels have no leading zeros.
  if (release.some((label) => /^0\d+$/.test(label))) return undefined;
  return { numbers: [Number(m[1]), Number(m[2]), Number(m[3] ?? 0), Number(m[4] ?? 0)], release, ...(m[6] ? { metadata: m[6] } : {}) };
}

/** Parse a version from a client or an upstream, refusing anything else with a 400. */
export function validateVersion(text: string): NuGetVersion {
  const parsed = parseVersion(text);
  if (!parsed) throw new BadRequestError(`${JSON.stringify(text.slice(0, 80))} is not a valid NuGet version`);
  return parsed;
}

/**
 * NuGet's normalized form (`ToNormalizedString`): leading zeros gone, three numbers (a fourth
 * only when not zero), the prerelease labels, no build metadata.
 */
export function normalizedVersion(v: NuGetVersion): string {
  const [a, b, c, d] = v.numbers;
  return `${a}.${b}.${c}${d !== 0 ? `.${d}` : ''}${v.release.length ? `-${v.release.join('.')}` : ''}`;
}

/** The normalized form with the build metadata (`ToFullString`), as registrations show SemVer 2.0.0 versions. */
export function fullVersion(v: NuGetVersion): string {
  return `${normalizedVersion(v)}${v.metadata ? `+${v.metadata}` : ''}`;
}

/** The key of a version in paths and documents: normalized and lower-cased. */
export function versionKey(v: NuGetVersion): string {
  return normalizedVersion(v).toLowerCase();
}

/** `text` parsed and keyed, for versions that come from URLs (`1.0` finds `1.0.0`). */
export function keyOf(text: string): string {
  return versionKey(validateVersion(text));
}

export const isPrerelease = (v: NuGetVersion) => v.release.length > 0;

/** A SemVer 2.0.0 version (dotted prerelease labels or build metadata), hidden from old clients' searches. */
export const isSemVer2 = (v: NuGetVersion) => v.release.length > 1 || v.metadata !== undefined;

/** NuGet's version order: numbers, then a release after its prereleases, labels case-insensitive, numeric ones by value. */
export function compareVersions(a: NuGetVersion, b: NuGetVersion): number {
  for (let i = 0; i < 4; i++) if (a.numbers[i] !== b.numbers[i]) return a.numbers[i]! - b.numbers[i]!;
  if (a.release.length === 0 || b.release.length === 0) return b.release.length - a.release.length;
  for (let i = 0; i < Math.min(a.release.length, b.release.length); i++) {
    const x = a.release[i]!;
    const y = b.release[i]!;
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    if (xn && yn) {
      if (Number(x) !== Number(y)) return Number(x) - Number(y);
    } else if (xn !== yn) return xn ? -1 : 1;
    else {
      const c = x.toLowerCase() < y.toLowerCase() ? -1 : x.toLowerCase() > y.toLowerCase() ? 1 : 0;
      if (c !== 0) return c;
    }
  }
  return a.release.length - b.release.length;
}

/** Compare two version strings known to parse (keys, normalized forms). */
export const compareVersionText = (a: string, b: string) => compareVersions(parseVersion(a)!, parseVersion(b)!);
