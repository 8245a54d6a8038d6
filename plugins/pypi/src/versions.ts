import { BadRequestError } from '@registry-core/api';

/** A version parsed per PEP 440. */
export interface Pep440Version {
  readonly epoch: number;
  readonly release: readonly number[];
  readonly pre?: { readonly label: 'a' | 'b' | 'rc'; readonly number: number };
  readonly post?: number;
  readonly dev?: number;
  /** Local segments (after `+`), lower case, split at `.`. */
  readonly local?: readonly (string | number)[];
}

// PEP 440's permissive grammar (its appendix), case-insensitive.
const PATTERN =
  /^\s*v?(?:(?<epoch>[0-9]+)!)?(?<release>[0-9]+(?:\.[0-9]+)*)(?<pre>[-_.]?(?<preL>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?<preN>[0-9]+)?)?(?<post>(?:-(?<postN1>[0-9]+))|(?:[-_.]?(?<postL>post|rev|r)[-_.]?(?<postN2>[0-9]+)?))?(?<dev>[-_.]?(?<devL>dev)[-_.]?(?<devN>[0-9]+)?)?(?:\+(?<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?\s*$/i;

const PRE_LABELS: Record<string, 'a' | 'b' | 'rc'> = { alpha: 'a', a: 'a', beta: 'b', b: 'b', c: 'rc', rc: 'rc', pre: 'rc', preview: 'rc' };

/** Parse a version; `undefined` when it is not PEP 440. */
export function parseVersion(text: string): Pep440Version | undefined {
  if (typeof text !== 'string' || text.length > 128) return undefined;
  const m = PATTERN.exec(text);
  if (!m?.groups) return undefined;
  const g = m.groups;
  const num = (s: string | undefined) => (s === undefined ? 0 : Number(s));
  const release = g['release']!.split('.').map(Number);
  if (release.some((n) => !Number.isSafeInteger(n))) return undefined;
  return {
    epoch: num(g['epoch']),
    release,
    ...(g['preL'] ? { pre: { label: PRE_LABELS[g['preL'].toLowerCase()]!, number: num(g['preN']) } } : {}),
    ...(g['post'] ? { post: num(g['postN1'] ?? g['postN2']) } : {}),
    ...(g['devL'] ? { dev: num(g['devN']) } : {}),
    ...(g['local'] ? { local: g['local'].toLowerCase().split(/[-_.]/).map((part) => (/^[0-9]+$/.test(part) ? Number(part) : part)) } : {}),
  };
}

/** The canonical form of a version (`1.0.0a1`, `1.0.post1`, `1!2.0`, `1.0+abc.1`); `undefined` when not PEP 440. */
export function normalizeVersion(text: string): string | undefined {
  const v = parseVersion(text);
  if (!v) return undefined;
  let out = v.epoch ? `${v.epoch}!` : '';
  out += v.release.join('.');
  if (v.pre) out += `${v.pre.label}${v.pre.number}`;
  if (v.post !== undefined) out += `.post${v.post}`;
  if (v.dev !== undefined) out += `.dev${v.dev}`;
  if (v.local) out += `+${v.local.join('.')}`;
  return out;
}

export function isPrerelease(text: string): boolean {
  const v = parseVersion(text);
  return !!v && (v.pre !== undefined || v.dev !== undefined);
}

/** A version a client sent, or a 400 in PyPI's words. */
export function validateVersion(text: string): string {
  if (parseVersion(text) === undefined) {
    throw new BadRequestError(`Invalid value for version. Error: ${JSON.stringify(String(text).slice(0, 100))} is an invalid value for Version. Use PEP 440 versions.`, 'INVALID_VERSION');
  }
  return text.trim();
}

function compareRelease(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/**
 * Sort key parts per PEP 440: a dev release of a final sorts before its pre-releases
 * (`1.0.dev0 < 1.0a1`), pre-releases before the final, post-releases after it; a local
 * version after the same public version.
 */
function preKey(v: Pep440Version): number[] {
  if (v.pre) return [0, { a: 0, b: 1, rc: 2 }[v.pre.label], v.pre.number];
  if (v.dev !== undefined && v.post === undefined) return [-1];
  return [1];
}

function compareLocal(a: readonly (string | number)[] | undefined, b: readonly (string | number)[] | undefined): number {
  if (!a && !b) return 0;
  if (!a) return -1;
  if (!b) return 1;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (typeof x === 'number' && typeof y === 'number') {
      if (x !== y) return Math.sign(x - y);
    } else if (typeof x === 'number') return 1;
    else if (typeof y === 'number') return -1;
    else if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** PEP 440 ordering; versions that do not parse sort before all valid ones, by their text. */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a);
  const y = parseVersion(b);
  if (!x || !y) {
    if (!x && !y) return a < b ? -1 : a > b ? 1 : 0;
    return x ? 1 : -1;
  }
  if (x.epoch !== y.epoch) return Math.sign(x.epoch - y.epoch);
  const release = compareRelease(x.release, y.release);
  if (release !== 0) return release;
  const [pa, pb] = [preKey(x), preKey(y)];
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  const postA = x.post ?? -1;
  const postB = y.post ?? -1;
  if (postA !== postB) return Math.sign(postA - postB);
  const devA = x.dev ?? Number.POSITIVE_INFINITY;
  const devB = y.dev ?? Number.POSITIVE_INFINITY;
  if (devA !== devB) return devA < devB ? -1 : 1;
  return compareLocal(x.local, y.local);
}

/** Whether two texts are the same PEP 440 version (`1.0` and `1.0.0` are). */
export function sameVersion(a: string, b: string): boolean {
  return parseVersion(a) !== undefined && parseVersion(b) !== undefined && compareVersions(a, b) === 0;
}
