// The subset of conda's MatchSpec the mirror job selects packages with: a name, an optional
// version constraint and an optional build string glob, as `name`, `name <version> [<build>]`,
// `name<op><version>` and `name=<version>[=<build>]`. Versions compare by conda's VersionOrder
// (epoch `N!`, local version `+...`, components split at `.`, `_` and `-`, each into numbers
// and strings; `dev` sorts before any other string, strings before numbers, `post` after
// everything; missing components are 0, so 1.1 == 1.1.0).
// Not supported (refused with a message rather than misread): channel prefixes (`conda-forge::`),
// `[key=value]` brackets, name globs and the `@` build-number forms.

type Part = number | string;
interface ParsedVersion {
  readonly epoch: number;
  readonly main: readonly (readonly Part[])[];
  readonly local: readonly (readonly Part[])[];
}

function components(text: string): Part[][] {
  if (text === '') return [];
  return text.split(/[._-]/).map((component) => {
    const parts: Part[] = [];
    for (const run of component.match(/\d+|[^\d]+/g) ?? []) parts.push(/^\d/.test(run) ? Number(run) : run);
    // A component starting with letters gets a 0 before them (1.1a == 1.1.0a... as conda does).
    if (typeof parts[0] === 'string') parts.unshift(0);
    if (parts.length === 0) parts.push(0);
    return parts;
  });
}

export function parseVersion(version: string): ParsedVersion {
  let text = version.trim().toLowerCase();
  if (!/^[0-9a-z_.+!-]+$/.test(text)) throw new Error(`${JSON.stringify(version)} is not a conda version`);
  let epoch = 0;
  const bang = text.indexOf('!');
  if (bang >= 0) {
    if (!/^\d+$/.test(text.slice(0, bang))) throw new Error(`${JSON.stringify(version)} has an epoch that is not a number`);
    epoch = Number(text.slice(0, bang));
    text = text.slice(bang + 1);
  }
  const plus = text.indexOf('+');
  const main = plus >= 0 ? text.slice(0, plus) : text;
  const local = plus >= 0 ? text.slice(plus + 1) : '';
  return { epoch, main: components(main), local: components(local) };
}

/** -1, 0 or 1: `dev` < other strings (by code point) < numbers < `post`. */
function comparePart(a: Part, b: Part): number {
  if (a === b) return 0;
  const rank = (p: Part) => (p === 'post' ? 3 : typeof p === 'number' ? 2 : p === 'dev' ? 0 : 1);
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareComponents(a: readonly (readonly Part[])[], b: readonly (readonly Part[])[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? [0];
    const y = b[i] ?? [0];
    for (let j = 0; j < Math.max(x.length, y.length); j++) {
      const c = comparePart(x[j] ?? 0, y[j] ?? 0);
      if (c !== 0) return c;
    }
  }
  return 0;
}

/** conda's VersionOrder: negative, 0 or positive. */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a);
  const y = parseVersion(b);
  if (x.epoch !== y.epoch) return x.epoch < y.epoch ? -1 : 1;
  return compareComponents(x.main, y.main) || compareComponents(x.local, y.local);
}

/** `version` starts with the components of `prefix` (`1.26.*` matches 1.26, 1.26.0 and 1.26.4, not 1.260). */
function startsWith(version: string, prefix: string): boolean {
  const x = parseVersion(version);
  const y = parseVersion(prefix);
  if (x.epoch !== y.epoch) return false;
  return compareComponents(x.main.slice(0, y.main.length), y.main) === 0 && (y.local.length === 0 || compareComponents(x.local.slice(0, y.local.length), y.local) === 0);
}

type VersionTest = (version: string) => boolean;

function glob(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

/** One constraint: `>=1.2`, `<2`, `!=1.3`, `==1.4`, `=1.4` (1.4.*), `~=1.4.2`, `1.4.*`, `1.4` (exact), `*`. */
function constraint(text: string): VersionTest {
  const m = /^(>=|<=|==|!=|~=|>|<|=)?\s*([^\s<>=!~]+)$/.exec(text.trim());
  if (!m) throw new Error(`${JSON.stringify(text)} is not a version constraint`);
  const op = m[1] ?? '';
  let version = m[2]!;
  if (version === '*') {
    if (op !== '' && op !== '=' && op !== '==') throw new Error(`${JSON.stringify(text)} is not a version constraint`);
    return () => true;
  }
  const prefix = version.endsWith('*');
  if (prefix) {
    version = version.replace(/\.?\*$/, '');
    if (op === '!=') return (v) => !startsWith(v, version);
    if (op !== '' && op !== '=' && op !== '==') throw new Error(`${JSON.stringify(text)}: a wildcard goes with =, == or != only`);
  }
  parseVersion(version); // refuses what is not a version
  if (prefix || op === '=') return (v) => startsWith(v, version);
  switch (op) {
    case '':
    case '==':
      return (v) => compareVersions(v, version) === 0;
    case '!=':
      return (v) => compareVersions(v, version) !== 0;
    case '>=':
      return (v) => compareVersions(v, version) >= 0;
    case '<=':
      return (v) => compareVersions(v, version) <= 0;
    case '>':
      return (v) => compareVersions(v, version) > 0;
    case '<':
      return (v) => compareVersions(v, version) < 0;
    case '~=': {
      // ~=1.4.2 is >=1.4.2 and 1.4.*
      const parts = version.split('.');
      if (parts.length < 2) throw new Error(`${JSON.stringify(text)}: ~= needs at least two components`);
      const head = parts.slice(0, -1).join('.');
      return (v) => compareVersions(v, version) >= 0 && startsWith(v, head);
    }
  }
  throw new Error(`${JSON.stringify(text)} is not a version constraint`);
}

/** `>=1.2,<2|3.*`: `,` is and, `|` is or (and binds tighter), no parentheses. */
function versionSpec(text: string): VersionTest {
  const alternatives = text.split('|').map((alt) => alt.split(',').map(constraint));
  return (v) => {
    try {
      return alternatives.some((all) => all.every((test) => test(v)));
    } catch {
      return false; // a version conda's rules cannot read matches nothing
    }
  };
}

export interface MatchSpec {
  readonly spec: string;
  readonly name: string;
  matches(record: { readonly name: string; readonly version: string; readonly build: string }): boolean;
}

const NAME = /^[a-z0-9_][a-z0-9_.-]*$/;

/** Parse one spec of the supported subset; throws with a message for anything else. */
export function parseMatchSpec(spec: string): MatchSpec {
  const text = spec.trim();
  if (text.includes('::') || text.includes('[') || text.includes('@')) throw new Error(`${JSON.stringify(spec)}: channel prefixes, [key=value] and @ are not supported in mirror specs`);
  let name: string;
  let version: string | undefined;
  let build: string | undefined;
  const words = text.split(/\s+/);
  if (words.length > 1) {
    // `name <version> [<build>]`, or `name >=1.2, <2` (a constraint with spaces in it)
    name = words[0]!;
    const rest = words.slice(1);
    const joined = rest.join(' ');
    if (rest.length === 2 && !/[,|]$|^[<>=!~]+$/.test(rest[0]!) && !/^[,|<>=!~]/.test(rest[1]!)) {
      version = rest[0];
      build = rest[1];
    } else version = joined.replace(/\s+/g, '');
  } else {
    const m = /^([^<>=!~\s]+)(.*)$/.exec(text)!;
    name = m[1]!;
    const tail = m[2]!;
    if (tail !== '') {
      // name=1.2=build_0 (conda's = form: 1.2.*, with a build glob), name==1.2=build exact
      const eq = /^(==?)([^=<>!~,|]+)=([^=]+)$/.exec(tail);
      if (eq) {
        version = eq[1] === '=' ? `${eq[2]}.*` : `==${eq[2]}`;
        build = eq[3];
      } else version = tail;
    }
  }
  if (!NAME.test(name)) throw new Error(`${JSON.stringify(spec)}: ${JSON.stringify(name)} is not a package name (name globs are not supported)`);
  const versionTest = version === undefined || version === '' ? () => true : versionSpec(version);
  const buildTest = build === undefined ? () => true : ((re) => (b: string) => re.test(b))(glob(build));
  return { spec: text, name, matches: (r) => r.name === name && versionTest(r.version) && buildTest(r.build) };
}
