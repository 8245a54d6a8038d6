import { BadRequestError } from '@registry-core/api';
import { isVersion, validateCrateName, validateVersion } from './names.js';

/** A dependency as an index line lists it (cargo's registry index format). */
export interface IndexDependency {
  readonly name: string;
  readonly req: string;
  readonly features: readonly string[];
  readonly optional: boolean;
  readonly default_features: boolean;
  readonly target: string | null;
  readonly kind: 'normal' | 'dev' | 'build';
  readonly registry: string | null;
  /** The crate's real name when `name` is a rename (`foo = { package = "bar" }`). */
  readonly package?: string;
}

/** One version of a crate in its index file: one JSON line. */
export interface IndexLine {
  readonly name: string;
  readonly vers: string;
  readonly deps: readonly IndexDependency[];
  /** sha256 of the .crate, hex. */
  readonly cksum: string;
  readonly features: Readonly<Record<string, readonly string[]>>;
  /** Features using `dep:` or `?/` syntax, kept apart for cargo older than 1.60 (with `v: 2`). */
  readonly features2?: Readonly<Record<string, readonly string[]>>;
  readonly yanked: boolean;
  readonly links: string | null;
  readonly v?: number;
  readonly rust_version?: string | null;
  /** When it was published (crates.io's `pubtime`). */
  readonly pubtime?: string;
}

/** What `cargo publish` says about a version besides its index line (kept for search). */
export interface PublishedMetadata {
  readonly description?: string;
  readonly keywords: readonly string[];
}

/** The JSON part of a `cargo publish` body, checked. */
export interface PublishRequest {
  readonly name: string;
  readonly vers: string;
  readonly line: Omit<IndexLine, 'cksum' | 'pubtime' | 'yanked'>;
  readonly metadata: PublishedMetadata;
}

const MAX_DEPS = 2000;
const MAX_FEATURES = 2000;
const MAX_SHORT = 1024;

function refuse(message: string): never {
  throw new BadRequestError(`invalid publish metadata: ${message}`);
}

const shortString = (value: unknown, what: string): string => {
  if (typeof value !== 'string' || value.length > MAX_SHORT) refuse(`${what} must be a string of at most ${MAX_SHORT} characters`);
  return value;
};
const optionalString = (value: unknown, what: string): string | null => (value === null || value === undefined ? null : shortString(value, what));
const stringList = (value: unknown, what: string, max = MAX_FEATURES): string[] => {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > max) refuse(`${what} must be a list of strings`);
  return value.map((v, i) => shortString(v, `${what}[${i}]`));
};
const DEP_NAME = /^[A-Za-z0-9_-]{1,64}$/;

function features(value: unknown, what: string): Record<string, string[]> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) refuse(`${what} must be an object`);
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_FEATURES) refuse(`too many ${what}`);
  const out: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  for (const [name, list] of entries) {
    if (name.length === 0 || name.length > 256 || /[\0-\x1f]/.test(name)) refuse(`a feature name in ${what} is not valid`);
    out[name] = stringList(list, `${what}.${name}`);
  }
  return { ...out };
}

/** A feature that needs cargo 1.60's syntax (`dep:x`, `x?/y`) belongs in `features2`. */
const newSyntax = (values: readonly string[]) => values.some((v) => v.startsWith('dep:') || v.includes('?/'));

/**
 * The JSON `cargo publish` sends, as an index line (without its checksum): `version_req`
 * becomes `req`, a renamed dependency's `explicit_name_in_toml` its `name` (with the real
 * name as `package`), features with the new syntax go to `features2` (`v: 2`).
 */
export function parsePublishRequest(json: unknown): PublishRequest {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) refuse('not a JSON object');
  const j = json as Record<string, unknown>;
  const name = validateCrateName(j['name']);
  const vers = validateVersion(j['vers']);
  if (!Array.isArray(j['deps']) || j['deps'].length > MAX_DEPS) refuse('"deps" must be a list');
  const deps = (j['deps'] as unknown[]).map((raw, i): IndexDependency => {
    if (typeof raw !== 'object' || raw === null) refuse(`deps[${i}] is not an object`);
    const d = raw as Record<string, unknown>;
    const real = shortString(d['name'], `deps[${i}].name`);
    if (!DEP_NAME.test(real)) refuse(`deps[${i}].name ${JSON.stringify(real.slice(0, 80))} is not a crate name`);
    const alias = optionalString(d['explicit_name_in_toml'], `deps[${i}].explicit_name_in_toml`);
    if (alias !== null && !DEP_NAME.test(alias)) refuse(`deps[${i}].explicit_name_in_toml is not a crate name`);
    const kind = d['kind'] ?? 'normal';
    if (kind !== 'normal' && kind !== 'dev' && kind !== 'build') refuse(`deps[${i}].kind must be normal, dev or build`);
    return {
      name: alias ?? real,
      req: shortString(d['version_req'], `deps[${i}].version_req`),
      features: stringList(d['features'], `deps[${i}].features`),
      optional: d['optional'] === true,
      default_features: d['default_features'] !== false,
      target: optionalString(d['target'], `deps[${i}].target`),
      kind,
      registry: optionalString(d['registry'], `deps[${i}].registry`),
      ...(alias !== null ? { package: real } : {}),
    };
  });
  const all = features(j['features'], 'features');
  const plain: Record<string, string[]> = {};
  const extended: Record<string, string[]> = {};
  for (const [feature, values] of Object.entries(all)) (newSyntax(values) ? extended : plain)[feature] = values;
  const rustVersion = optionalString(j['rust_version'], 'rust_version');
  const description = optionalString(j['description'], 'description');
  return {
    name,
    vers,
    line: {
      name,
      vers,
      deps,
      features: plain,
      ...(Object.keys(extended).length > 0 ? { features2: extended, v: 2 } : {}),
      links: optionalString(j['links'], 'links'),
      ...(rustVersion !== null ? { rust_version: rustVersion } : {}),
    },
    metadata: { ...(description !== null ? { description } : {}), keywords: stringList(j['keywords'], 'keywords', 10) },
  };
}

/**
 * The lines of an upstream's index file that are usable: JSON objects for this crate
 * (`lowerName`, compared case-insensitively) with a SemVer version and a sha256 checksum,
 * each version once. Anything else is left out: an upstream is hostile until checked.
 */
export function parseIndexFile(text: string, lowerName: string): IndexLine[] {
  const lines: IndexLine[] = [];
  const seen = new Set<string>();
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      continue;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) continue;
    const line = parsed as Record<string, unknown>;
    if (typeof line['name'] !== 'string' || line['name'].toLowerCase() !== lowerName) continue;
    if (!isVersion(line['vers']) || seen.has(line['vers'])) continue;
    if (typeof line['cksum'] !== 'string' || !/^[0-9a-f]{64}$/.test(line['cksum'])) continue;
    if (!Array.isArray(line['deps'])) continue;
    seen.add(line['vers']);
    lines.push(parsed as IndexLine);
  }
  return lines;
}

/** An index file: one JSON object per line. */
export function renderIndexFile(lines: readonly IndexLine[]): string {
  return lines.map((line) => JSON.stringify(line)).join('\n') + (lines.length > 0 ? '\n' : '');
}

/** Several members' lines for one crate, in member order: each version once, the first member's line winning. */
export function mergeIndexLines(files: readonly (readonly IndexLine[])[]): IndexLine[] {
  const seen = new Set<string>();
  const merged: IndexLine[] = [];
  for (const lines of files) {
    for (const line of lines) {
      if (seen.has(line.vers)) continue;
      seen.add(line.vers);
      merged.push(line);
    }
  }
  return merged;
}
