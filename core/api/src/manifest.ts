/** The `registryCore` block of a plugin's package.json. */
export interface PluginManifest {
  /** Semver range of the API the plugin was built for; must pin a major (`^1.0.0`). */
  readonly apiVersion: string;
  readonly contributes: PluginContributions;
  /** Module to import instead of the package's main export, relative to the package. */
  readonly main?: string;
}

/** What a plugin may contribute; it is activated only when the config uses one of them. */
export interface PluginContributions {
  readonly formats?: readonly { readonly id: string; readonly repositoryTypes: readonly ('hosted' | 'proxy' | 'group')[] }[];
  readonly storageDrivers?: readonly { readonly id: string }[];
  readonly authProviders?: readonly { readonly id: string }[];
}

const ID = /^[a-z][a-z0-9-]{0,63}$/;
const TYPES = new Set(['hosted', 'proxy', 'group']);

/** Result of {@link parseManifest}. */
export type ManifestParseResult =
  | { readonly ok: true; readonly manifest: PluginManifest }
  | { readonly ok: false; readonly errors: readonly string[] };

/**
 * Validate a package.json's `registryCore` block without importing any plugin code.
 * Errors name the offending key (`registryCore.contributes.formats[0].id: ...`).
 */
export function parseManifest(packageJson: unknown): ManifestParseResult {
  const errors: string[] = [];
  if (typeof packageJson !== 'object' || packageJson === null) {
    return { ok: false, errors: ['package.json: must be an object'] };
  }
  const block = (packageJson as Record<string, unknown>)['registryCore'];
  if (block === undefined) return { ok: false, errors: ['registryCore: missing (not a registry-core plugin)'] };
  if (typeof block !== 'object' || block === null || Array.isArray(block)) {
    return { ok: false, errors: ['registryCore: must be an object'] };
  }
  const m = block as Record<string, unknown>;
  if (typeof m['apiVersion'] !== 'string' || m['apiVersion'].trim() === '') {
    errors.push('registryCore.apiVersion: required, a semver range such as "^1.0.0"');
  } else if (!pinsMajor(m['apiVersion'])) {
    errors.push(`registryCore.apiVersion: "${m['apiVersion']}" must pin a major version (e.g. "^1.0.0")`);
  }
  if (m['main'] !== undefined && typeof m['main'] !== 'string') errors.push('registryCore.main: must be a string');
  const c = m['contributes'];
  if (typeof c !== 'object' || c === null || Array.isArray(c)) {
    errors.push('registryCore.contributes: required, an object');
  } else {
    const contributes = c as Record<string, unknown>;
    for (const key of Object.keys(contributes)) {
      if (!['formats', 'storageDrivers', 'authProviders'].includes(key)) {
        errors.push(`registryCore.contributes.${key}: unknown contribution point`);
      }
    }
    for (const point of ['formats', 'storageDrivers', 'authProviders'] as const) {
      const list = contributes[point];
      if (list === undefined) continue;
      if (!Array.isArray(list)) {
        errors.push(`registryCore.contributes.${point}: must be an array`);
        continue;
      }
      list.forEach((entry: unknown, i) => {
        const at = `registryCore.contributes.${point}[${i}]`;
        if (typeof entry !== 'object' || entry === null) return void errors.push(`${at}: must be an object`);
        const e = entry as Record<string, unknown>;
        if (typeof e['id'] !== 'string' || !ID.test(e['id'])) errors.push(`${at}.id: must match ${ID}`);
        if (point === 'formats') {
          const types = e['repositoryTypes'];
          if (!Array.isArray(types) || types.length === 0 || !types.every((t) => TYPES.has(t as string))) {
            errors.push(`${at}.repositoryTypes: must be a non-empty array of hosted, proxy, group`);
          }
        }
      });
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, manifest: block as unknown as PluginManifest };
}

/** True when every comparator set of `range` bounds the major version (no `*`, `>=1`, `x`). */
function pinsMajor(range: string): boolean {
  return range.split('||').every((part) => {
    const p = part.trim();
    return /^(\^|~)?\d+(\.(\d+|x|\*)){0,2}(-[\w.]+)?$/.test(p) || /^>=?\s*\d+\.\d+\.\d+(-[\w.]+)?\s+<\s*\d+(\.\d+){0,2}$/.test(p);
  });
}
