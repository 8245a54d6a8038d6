import { BadRequestError } from '@registry-core/api';

type Json = Record<string, unknown>;

function record(value: unknown): Record<string, string> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return {};
  return Object.fromEntries(Object.entries(value as Json).map(([k, v]) => [k, String(v)]));
}

function cleanPath(p: string): string {
  return p.replace(/\\/g, '/').replace(/^(\.\/)+/, '').replace(/\/+/g, '/');
}

function bins(manifest: Json, base: string): Record<string, string> | undefined {
  const bin = manifest['bin'];
  if (typeof bin === 'string') return { [base]: cleanPath(bin) };
  if (bin && typeof bin === 'object') return Object.fromEntries(Object.entries(bin as Json).map(([k, v]) => [k, cleanPath(String(v))]));
  return undefined;
}

function same(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

/**
 * The "manifest confusion" check: the JSON manifest a client publishes must say what the
 * package.json inside its tarball says about name, version, dependencies, scripts and
 * bin, or installers and auditors read different packages. npm's own normalisations
 * (a `./` on bin paths, a string bin, the implicit `node-gyp rebuild` install script for
 * a binding.gyp, optional dependencies also listed as dependencies) are not differences.
 * Throws a 400 naming the first field that disagrees.
 */
export function checkManifestMatchesTarball(published: Json, packed: Json, facts: { hasBindingGyp: boolean; base: string }): void {
  const differ = (field: string): never => {
    throw new BadRequestError(`the published manifest's "${field}" does not match the package.json inside the tarball`);
  };
  if (published['name'] !== packed['name']) differ('name');
  if (published['version'] !== packed['version']) differ('version');
  const optionalPublished = record(published['optionalDependencies']);
  const optionalPacked = record(packed['optionalDependencies']);
  if (!same(optionalPublished, optionalPacked)) differ('optionalDependencies');
  const withoutOptional = (deps: Record<string, string>) => Object.fromEntries(Object.entries(deps).filter(([k]) => !(k in optionalPacked)));
  if (!same(withoutOptional(record(published['dependencies'])), withoutOptional(record(packed['dependencies'])))) differ('dependencies');
  if (!same(record(published['peerDependencies']), record(packed['peerDependencies']))) differ('peerDependencies');
  const scriptsPublished = record(published['scripts']);
  const scriptsPacked = record(packed['scripts']);
  if (facts.hasBindingGyp && !scriptsPacked['install'] && !scriptsPacked['preinstall'] && scriptsPublished['install'] === 'node-gyp rebuild') {
    delete scriptsPublished['install'];
  }
  if (!same(scriptsPublished, scriptsPacked)) differ('scripts');
  const packedBins = bins(packed, facts.base);
  const publishedBins = bins(published, facts.base);
  const directoriesBin = (packed['directories'] as Json | undefined)?.['bin'];
  if (!(packedBins === undefined && directoriesBin !== undefined)) {
    if (!same(publishedBins ?? {}, packedBins ?? {})) differ('bin');
  }
}
