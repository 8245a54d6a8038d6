/** The `registryCore` block of a plugin's package.json. */
export interface PluginManifest {
  /** Semver range of the API the plugin was built for; must pin a major (`^1.0.0`). */
  readonly apiVersion: string;
  readonly contributes: PluginContributions;
  /** Module to import instead of the package's main export, relative to the package. */
  readonly main?: string;
}

/** A JSON schema (draft-07) object. */
export interface JsonSchema {
  readonly [keyword: string]: unknown;
}

/**
 * What a plugin may contribute; it is activated only when the config uses one of them.
 * Each may declare `configSchema`, a JSON schema (draft-07, `type: object`) of its own keys:
 * a format's keys in a repository block, a driver's options in a storage block, a
 * provider's options in an `auth.providers` entry. The host checks the config against it
 * before activating the plugin, every error with the key's path; the keys the kernel owns
 * ({@link KERNEL_OWNED_KEYS}) are never passed to it and may not be declared in it. A
 * format's property may say which kinds of repository take it (`"repositoryTypes":
 * ["proxy"]` for a key about the upstream): the host refuses it on the others.
 */
export interface PluginContributions {
  readonly formats?: readonly {
    readonly id: string;
    readonly repositoryTypes: readonly ('hosted' | 'proxy' | 'group')[];
    readonly configSchema?: JsonSchema;
    /** The opt-in parts of the contract the format uses; see {@link FormatCapability}. */
    readonly capabilities?: readonly FormatCapability[];
  }[];
  readonly storageDrivers?: readonly { readonly id: string; readonly configSchema?: JsonSchema }[];
  readonly authProviders?: readonly { readonly id: string; readonly configSchema?: JsonSchema }[];
  /**
   * Browser apps (a web interface), see `WebAppDefinition`: activated unless the config
   * turns the web interface off (`web.enabled: false`); one is served at a time.
   */
  readonly webApps?: readonly { readonly id: string }[];
}

/**
 * Parts of the contract only some formats need, declared in the manifest so the host can
 * refuse what a format uses without saying so:
 * - `uploads`: resumable upload sessions (`RepositoryHandle.uploads`, OCI's blob uploads);
 * - `hostRoot`: served at the host root and on a repository's own port (`FormatDefinition.hostRoot`);
 * - `accessTokens`: signed short-lived access tokens (`FormatAuthService.issueAccessToken`);
 * - `login`: a client's own login and token endpoints (the rest of `FormatAuthService`);
 * - `tasks`: upkeep jobs (`FormatDefinition.tasks`).
 */
export type FormatCapability = 'uploads' | 'hostRoot' | 'accessTokens' | 'login' | 'tasks';

const CAPABILITIES = new Set<string>(['uploads', 'hostRoot', 'accessTokens', 'login', 'tasks']);

/** The contribution points, as `contributes` names them. */
export type ContributionPoint = keyof PluginContributions;

/** Per contribution point, the keys of its config block that belong to the kernel, not the plugin. */
export const KERNEL_OWNED_KEYS: Readonly<Record<ContributionPoint, readonly string[]>> = {
  formats: ['format', 'type', 'upstream', 'members', 'routing', 'storage', 'upstreamAuth', 'anonymousRead', 'port', 'maxUploadSize', 'cache'],
  storageDrivers: ['driver', 'redirect'],
  authProviders: ['id'],
  webApps: [],
};

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
      if (!['formats', 'storageDrivers', 'authProviders', 'webApps'].includes(key)) {
        errors.push(`registryCore.contributes.${key}: unknown contribution point`);
      }
    }
    for (const point of ['formats', 'storageDrivers', 'authProviders', 'webApps'] as const) {
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
        if (e['configSchema'] !== undefined) errors.push(...checkConfigSchema(e['configSchema'], `${at}.configSchema`, KERNEL_OWNED_KEYS[point]));
        if (point === 'formats') {
          const types = e['repositoryTypes'];
          if (!Array.isArray(types) || types.length === 0 || !types.every((t) => TYPES.has(t as string))) {
            errors.push(`${at}.repositoryTypes: must be a non-empty array of hosted, proxy, group`);
          }
          const capabilities = e['capabilities'];
          if (capabilities !== undefined && (!Array.isArray(capabilities) || !capabilities.every((c) => CAPABILITIES.has(c as string)))) {
            errors.push(`${at}.capabilities: must be an array of ${[...CAPABILITIES].join(', ')}`);
          }
        }
      });
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, manifest: block as unknown as PluginManifest };
}

/**
 * Shape checks of a contribution's `configSchema` (the host compiles it before use): an
 * object schema whose `properties` leave the kernel's keys alone.
 */
function checkConfigSchema(schema: unknown, at: string, kernelKeys: readonly string[]): string[] {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return [`${at}: must be a JSON schema object`];
  const s = schema as Record<string, unknown>;
  const errors: string[] = [];
  if (s['type'] !== undefined && s['type'] !== 'object') errors.push(`${at}.type: must be "object" (the schema describes the keys of a block)`);
  for (const keyword of ['$ref', '$id'] as const) if (s[keyword] !== undefined) errors.push(`${at}.${keyword}: not supported (the schema must stand alone)`);
  const properties = s['properties'];
  if (properties !== undefined) {
    if (typeof properties !== 'object' || properties === null || Array.isArray(properties)) errors.push(`${at}.properties: must be an object`);
    else {
      for (const [key, property] of Object.entries(properties as Record<string, unknown>)) {
        if (kernelKeys.includes(key)) errors.push(`${at}.properties.${key}: the kernel owns this key`);
        const kinds = (property as { repositoryTypes?: unknown } | null)?.repositoryTypes;
        if (kinds !== undefined && (!Array.isArray(kinds) || kinds.length === 0 || !kinds.every((k) => k === 'hosted' || k === 'proxy' || k === 'group'))) {
          errors.push(`${at}.properties.${key}.repositoryTypes: must list some of hosted, proxy, group`);
        }
      }
    }
  }
  if (s['required'] !== undefined && (!Array.isArray(s['required']) || !s['required'].every((k) => typeof k === 'string'))) errors.push(`${at}.required: must be an array of key names`);
  return errors;
}

/** True when every comparator set of `range` bounds the major version (no `*`, `>=1`, `x`). */
function pinsMajor(range: string): boolean {
  return range.split('||').every((part) => {
    const p = part.trim();
    return /^(\^|~)?\d+(\.(\d+|x|\*)){0,2}(-[\w.]+)?$/.test(p) || /^>=?\s*\d+\.\d+\.\d+(-[\w.]+)?\s+<\s*\d+(\.\d+){0,2}$/.test(p);
  });
}
