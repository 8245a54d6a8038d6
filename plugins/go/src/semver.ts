/**
 * Go's semantic versions (golang.org/x/mod/semver) and the go command's order of them.
 * Module versions are canonical: `vMAJOR.MINOR.PATCH`, an optional pre-release, and as build
 * metadata only `+incompatible`.
 */

export interface GoVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** Without the dash; empty for a release. */
  readonly prerelease: string;
  /** With the plus sign; empty when absent. */
  readonly build: string;
}

const NUM = '(0|[1-9]\\d*)';
const IDENT = '(?:0|[1-9]\\d*|\\d*[A-Za-z-][0-9A-Za-z-]*)';
const CANONICAL = new RegExp(`^v${NUM}\\.${NUM}\\.${NUM}(?:-(${IDENT}(?:\\.${IDENT})*))?(\\+incompatible)?$`);

/** Parse a canonical module version; `undefined` for anything else. */
export function parseVersion(version: string): GoVersion | undefined {
  if (version.length > 256) return undefined;
  const m = CANONICAL.exec(version);
  if (!m) return undefined;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (![major, minor, patch].every(Number.isSafeInteger)) return undefined;
  return { major, minor, patch, prerelease: m[4] ?? '', build: m[5] ?? '' };
}

export const isCanonicalVersion = (version: string): boolean => parseVersion(version) !== undefined;

const PSEUDO = /^v[0-9]+\.(0\.0-|\d+\.\d+-([^+]*\.)?0\.)\d{14}-[A-Za-z0-9]+(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

/** A pseudo-version (`v0.0.0-20240101120000-abcdef123456`): never listed in `@v/list`. */
export const isPseudoVersion = (version: string): boolean => PSEUDO.test(version);

function compareIdentifiers(a: string, b: string): number {
  const an = /^\d+$/.test(a);
  const bn = /^\d+$/.test(b);
  if (an && bn) return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
  if (an) return -1;
  if (bn) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function comparePrerelease(a: string, b: string): number {
  if (a === b) return 0;
  if (a === '') return 1;
  if (b === '') return -1;
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const c = compareIdentifiers(x[i]!, y[i]!);
    if (c !== 0) return c;
  }
  return x.length - y.length;
}

/** semver.Compare: build metadata (`+incompatible`) is ignored; invalid versions sort first. */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a);
  const y = parseVersion(b);
  if (!x || !y) return x ? 1 : y ? -1 : a < b ? -1 : a > b ? 1 : 0;
  const d = x.major - y.major || x.minor - y.minor || x.patch - y.patch;
  if (d !== 0) return Math.sign(d);
  const p = comparePrerelease(x.prerelease, y.prerelease);
  // Equal by semver: keep a stable order (v2.0.0 before v2.0.0+incompatible).
  return p !== 0 ? Math.sign(p) : a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The version `@latest` answers among `versions`, as the go command picks one: the highest
 * release, else the highest pre-release, else the highest pseudo-version.
 */
export function latestVersion(versions: readonly string[]): string | undefined {
  const rank = (v: string) => (isPseudoVersion(v) ? 0 : parseVersion(v)?.prerelease ? 1 : 2);
  let best: string | undefined;
  for (const v of versions) {
    if (!isCanonicalVersion(v)) continue;
    if (best === undefined || rank(v) > rank(best) || (rank(v) === rank(best) && compareVersions(v, best) > 0)) best = v;
  }
  return best;
}
