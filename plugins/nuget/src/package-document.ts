import type { PackageDescription } from './nupkg.js';
import { compareVersionText, isPrerelease, isSemVer2, parseVersion } from './versions.js';

/** One version of a package as feeds show it (a registration leaf's catalog entry, a v2 entry). */
export interface VersionEntry extends PackageDescription {
  /** Normalized version with its build metadata, original case. */
  readonly version: string;
  readonly listed: boolean;
  readonly published?: string;
  /** As the upstream gave them (registrations' `deprecation` and `vulnerabilities`). */
  readonly deprecation?: unknown;
  readonly vulnerabilities?: readonly unknown[];
  readonly packageSize?: number;
  /** Base64 SHA-512 of the .nupkg. */
  readonly packageHash?: string;
}

/** A package's versions in one repository, keyed by normalized lower-case version. */
export interface PackageDocument {
  /** The id as first published (display case). */
  readonly id: string;
  readonly versions: Readonly<Record<string, VersionEntry>>;
}

/** The versions' keys in NuGet order. */
export const sortedKeys = (doc: PackageDocument) => Object.keys(doc.versions).sort(compareVersionText);

/** Several members' documents for one id, in member order: versions united, the first member's entry winning. */
export function mergeDocuments(documents: readonly PackageDocument[]): PackageDocument {
  const versions: Record<string, VersionEntry> = {};
  for (const doc of documents) for (const [key, entry] of Object.entries(doc.versions)) versions[key] ??= entry;
  return { id: documents[0]!.id, versions };
}

/** Whether a client asking with `prerelease` and `semVerLevel` sees a version. */
export function visible(entry: VersionEntry, options: { prerelease: boolean; semVer2: boolean }): boolean {
  const parsed = parseVersion(entry.version);
  if (!parsed || !entry.listed) return false;
  return (options.prerelease || !isPrerelease(parsed)) && (options.semVer2 || !isSemVer2(parsed));
}

/** The URLs a repository serves under its base URL (the group's when asked through one). */
export function urls(baseUrl: string) {
  const flat = `${baseUrl}v3-flatcontainer/`;
  const registration = `${baseUrl}v3/registration/`;
  return {
    flat,
    registration,
    search: `${baseUrl}v3/query`,
    autocomplete: `${baseUrl}v3/autocomplete`,
    publish: `${baseUrl}api/v2/package`,
    v2: `${baseUrl}api/v2/`,
    nupkg: (lid: string, key: string) => `${flat}${lid}/${key}/${lid}.${key}.nupkg`,
    registrationIndex: (lid: string) => `${registration}${lid}/index.json`,
    leaf: (lid: string, key: string) => `${registration}${lid}/${key}.json`,
    page: (lid: string, lower: string, upper: string) => `${registration}${lid}/page/${lower}/${upper}.json`,
    catalog: (lid: string, key: string) => `${baseUrl}v3/catalog/${lid}/${key}.json`,
  };
}

/** Versions above which a registration index links its pages instead of inlining them (nuget.org's rule). */
export const INLINE_LIMIT = 128;
const PAGE_SIZE = 64;

/** The catalog entry of one version, as registration leaves inline it. */
export function catalogEntry(baseUrl: string, doc: PackageDocument, key: string): Record<string, unknown> {
  const u = urls(baseUrl);
  const lid = doc.id.toLowerCase();
  const e = doc.versions[key]!;
  return {
    '@id': u.catalog(lid, key),
    '@type': 'PackageDetails',
    id: doc.id,
    version: e.version,
    listed: e.listed,
    published: e.listed ? (e.published ?? '1900-01-01T00:00:00Z') : '1900-01-01T00:00:00Z',
    description: e.description ?? '',
    authors: e.authors ?? '',
    title: e.title ?? '',
    summary: e.summary ?? '',
    tags: e.tags ? e.tags.split(/[\s,]+/).filter(Boolean) : [],
    projectUrl: e.projectUrl ?? '',
    licenseUrl: e.licenseUrl ?? '',
    iconUrl: e.iconUrl ?? '',
    requireLicenseAcceptance: e.requireLicenseAcceptance ?? false,
    packageContent: u.nupkg(lid, key),
    dependencyGroups: (e.dependencyGroups ?? []).map((g) => ({
      '@id': `${u.catalog(lid, key)}#dependencygroup/${(g.targetFramework ?? '').toLowerCase()}`,
      ...(g.targetFramework ? { targetFramework: g.targetFramework } : {}),
      dependencies: g.dependencies.map((d) => ({ '@id': `${u.catalog(lid, key)}#dependency/${d.id.toLowerCase()}`, id: d.id, range: d.range, registration: u.registrationIndex(d.id.toLowerCase()) })),
    })),
    ...(e.deprecation !== undefined ? { deprecation: e.deprecation } : {}),
    ...(e.vulnerabilities !== undefined ? { vulnerabilities: e.vulnerabilities } : {}),
    ...(e.packageHash ? { packageHash: e.packageHash, packageHashAlgorithm: 'SHA512' } : {}),
    ...(e.packageSize !== undefined ? { packageSize: e.packageSize } : {}),
  };
}

function leaf(baseUrl: string, doc: PackageDocument, key: string): Record<string, unknown> {
  const u = urls(baseUrl);
  const lid = doc.id.toLowerCase();
  return { '@id': u.leaf(lid, key), '@type': 'Package', commitTimeStamp: doc.versions[key]!.published ?? '1900-01-01T00:00:00Z', catalogEntry: catalogEntry(baseUrl, doc, key), packageContent: u.nupkg(lid, key), registration: u.registrationIndex(lid) };
}

/** The pages of a registration: runs of {@link PAGE_SIZE} versions in order. */
function pages(doc: PackageDocument): string[][] {
  const keys = sortedKeys(doc);
  const result: string[][] = [];
  for (let i = 0; i < keys.length; i += PAGE_SIZE) result.push(keys.slice(i, i + PAGE_SIZE));
  return result;
}

function page(baseUrl: string, doc: PackageDocument, keys: readonly string[], inline: boolean): Record<string, unknown> {
  const u = urls(baseUrl);
  const lid = doc.id.toLowerCase();
  const lower = keys[0]!;
  const upper = keys[keys.length - 1]!;
  const id = inline ? `${u.registrationIndex(lid)}#page/${lower}/${upper}` : u.page(lid, lower, upper);
  return {
    '@id': id,
    '@type': 'catalog:CatalogPage',
    count: keys.length,
    lower: doc.versions[lower]!.version,
    upper: doc.versions[upper]!.version,
    ...(inline ? { items: keys.map((k) => leaf(baseUrl, doc, k)) } : {}),
    parent: u.registrationIndex(lid),
  };
}

/** A registration index: pages inlined up to {@link INLINE_LIMIT} versions, linked above. */
export function registrationIndex(baseUrl: string, doc: PackageDocument): Record<string, unknown> {
  const all = pages(doc);
  const inline = Object.keys(doc.versions).length <= INLINE_LIMIT;
  return {
    '@id': urls(baseUrl).registrationIndex(doc.id.toLowerCase()),
    '@type': ['catalog:CatalogRoot', 'PackageRegistration', 'catalog:Permalink'],
    count: all.length,
    items: all.map((keys) => page(baseUrl, doc, keys, inline)),
  };
}

/** One linked page (`page/<lower>/<upper>.json`), or `undefined` when no page has those bounds. */
export function registrationPage(baseUrl: string, doc: PackageDocument, lower: string, upper: string): Record<string, unknown> | undefined {
  const keys = pages(doc).find((p) => p[0] === lower && p[p.length - 1] === upper);
  return keys ? page(baseUrl, doc, keys, true) : undefined;
}

/** A registration leaf (`<version>.json`). */
export function registrationLeaf(baseUrl: string, doc: PackageDocument, key: string): Record<string, unknown> | undefined {
  const e = doc.versions[key];
  if (!e) return undefined;
  const u = urls(baseUrl);
  const lid = doc.id.toLowerCase();
  return { '@id': u.leaf(lid, key), '@type': ['Package', 'http://schema.nuget.org/catalog#Permalink'], catalogEntry: u.catalog(lid, key), listed: e.listed, packageContent: u.nupkg(lid, key), published: e.published ?? '1900-01-01T00:00:00Z', registration: u.registrationIndex(lid) };
}
