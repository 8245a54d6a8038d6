import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseManifest, type PluginManifest } from '@registry-core/api';

/** A plugin package found on disk, manifest read (no plugin code imported). */
export interface ResolvedPlugin {
  /** The name as written in the config (or discovered). */
  readonly requested: string;
  readonly name: string;
  readonly version: string;
  readonly directory: string;
  readonly packageJson: Record<string, unknown>;
}

/** Why a plugin could not be located. */
export class PluginNotFoundError extends Error {}

/**
 * Locate a plugin: a path (relative to the config file's folder) or a package name,
 * looked up from the config file's folder first, then from each fallback folder (the
 * registry-core installation), so first-party plugins work from a config anywhere.
 */
export function resolvePlugin(requested: string, configDir: string, fallbackDirs: readonly string[]): ResolvedPlugin {
  let directory: string | undefined;
  if (requested.startsWith('.') || path.isAbsolute(requested)) {
    const candidate = path.resolve(configDir, requested);
    if (!existsSync(path.join(candidate, 'package.json'))) {
      throw new PluginNotFoundError(`no package.json in ${candidate}`);
    }
    directory = candidate;
  } else {
    if (!/^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*$/i.test(requested)) throw new PluginNotFoundError(`"${requested}" is not a package name or a path`);
    for (const from of [configDir, ...fallbackDirs]) {
      const found = findPackageDir(requested, from);
      if (found) {
        directory = found;
        break;
      }
    }
    if (!directory) {
      throw new PluginNotFoundError(`package ${requested} is not installed (looked from ${[configDir, ...fallbackDirs].join(', ')})`);
    }
  }
  const packageJson = JSON.parse(readFileSync(path.join(directory, 'package.json'), 'utf8')) as Record<string, unknown>;
  return {
    requested,
    name: typeof packageJson['name'] === 'string' ? packageJson['name'] : path.basename(directory),
    version: typeof packageJson['version'] === 'string' ? packageJson['version'] : '0.0.0',
    directory,
    packageJson,
  };
}

/** Walk node_modules folders up from `from` (Node's own lookup order) without importing. */
function findPackageDir(name: string, from: string): string | undefined {
  const require = createRequire(path.join(from, '__registry-core-resolve__.js'));
  for (const dir of require.resolve.paths(name) ?? []) {
    const candidate = path.join(dir, name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
  }
  return undefined;
}

/** Installed `@registry-core/*` packages with a manifest, found from the given folders. */
export function discoverFirstPartyPlugins(fromDirs: readonly string[]): string[] {
  const names = new Set<string>();
  for (const from of fromDirs) {
    const require = createRequire(path.join(from, '__registry-core-resolve__.js'));
    for (const dir of require.resolve.paths('@registry-core/x') ?? []) {
      const scope = path.join(dir, '@registry-core');
      if (!existsSync(scope) || !statSync(scope).isDirectory()) continue;
      for (const entry of readdirSync(scope)) {
        try {
          const pkg = JSON.parse(readFileSync(path.join(scope, entry, 'package.json'), 'utf8')) as Record<string, unknown>;
          if (pkg['registryCore'] && typeof pkg['name'] === 'string') names.add(pkg['name']);
        } catch {
          // not a package
        }
      }
    }
  }
  return [...names].sort();
}

/** The module file to import: `registryCore.main`, else the `exports` "." entry, else `main`. */
export function pluginEntryFile(plugin: ResolvedPlugin, manifest: PluginManifest): string {
  const pkg = plugin.packageJson;
  let relative: string | undefined = manifest.main;
  if (!relative) {
    const exp = pkg['exports'];
    const dot = typeof exp === 'string' ? exp : exp && typeof exp === 'object' ? (exp as Record<string, unknown>)['.'] ?? exp : undefined;
    relative = pickCondition(dot);
  }
  relative ??= typeof pkg['main'] === 'string' ? pkg['main'] : 'index.js';
  const file = path.resolve(plugin.directory, relative);
  if (!file.startsWith(plugin.directory + path.sep)) throw new PluginNotFoundError(`entry ${relative} is outside the plugin folder`);
  if (!existsSync(file)) throw new PluginNotFoundError(`entry file ${file} does not exist (is the plugin built?)`);
  return file;
}

function pickCondition(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  for (const condition of ['import', 'node', 'default']) {
    const picked = pickCondition(v[condition]);
    if (picked) return picked;
  }
  return undefined;
}

export { parseManifest };
