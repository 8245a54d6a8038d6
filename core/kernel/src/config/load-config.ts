import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { cosmiconfig } from 'cosmiconfig';
import { applyEnvOverrides, CONFIG_FILE_ENV, hostFromEnv } from './env-overrides.js';
import { expandEnv } from './expand-env.js';
import { configSchema } from './schema.js';
import { parseSize } from './sizes.js';
import type { PermissionRule } from '../auth/permissions.js';
import type { CacheConfig, ConfigFile, LoadedConfig, PluginEntry, RegistryConfig, RepositoryBlock, RepositoryConfig, StorageConfig, StorageRedirectConfig } from './types.js';

/** A config that cannot be used; `errors` holds one line per problem, each with its path. */
export class ConfigError extends Error {
  constructor(readonly errors: readonly string[], readonly filepath?: string) {
    super(`invalid configuration${filepath ? ` in ${filepath}` : ''}:\n${errors.map((e) => `  - ${e}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadConfigOptions {
  /** Explicit config file (`--config`); else `REGISTRY_CORE_CONFIG`; else searched for from `cwd`. */
  readonly file?: string;
  /** Folder to search from; default the current directory. */
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Overrides applied after loading (`--port`, `--host`, `--data-dir`; a relative data folder is taken from `cwd`). */
  readonly overrides?: { readonly host?: string; readonly port?: number; readonly dataDir?: string };
}

/** The environment variable that pins the data folder (as `--data-dir` does). */
export const DATA_DIR_ENV = 'REGISTRY_CORE_DATA_DIR';

const MODULE_NAME = 'registry-core';
/** cosmiconfig's defaults plus the YAML and JSON file names the docs use. */
const SEARCH_PLACES = [
  'package.json',
  `.${MODULE_NAME}rc`,
  `.${MODULE_NAME}rc.json`,
  `.${MODULE_NAME}rc.yaml`,
  `.${MODULE_NAME}rc.yml`,
  `.${MODULE_NAME}rc.js`,
  `.${MODULE_NAME}rc.mjs`,
  `.${MODULE_NAME}rc.cjs`,
  `${MODULE_NAME}.config.yaml`,
  `${MODULE_NAME}.config.yml`,
  `${MODULE_NAME}.config.json`,
  `${MODULE_NAME}.config.js`,
  `${MODULE_NAME}.config.mjs`,
  `${MODULE_NAME}.config.cjs`,
  `${MODULE_NAME}.config.ts`,
];
/** The config file's validator; it also fills in the defaults the schema declares. */
const validateFile = new Ajv({ allErrors: true, strict: false, useDefaults: true }).compile(configSchema);

/** Find, read, expand and validate the config; with no config file, the zero-config default. */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const env = options.env ?? process.env;
  const explorer = cosmiconfig(MODULE_NAME, { searchStrategy: 'none', searchPlaces: SEARCH_PLACES });
  let raw: unknown = {};
  let filepath: string | undefined;
  const given = options.file ?? (env[CONFIG_FILE_ENV] || undefined);
  if (given) {
    const file = path.resolve(cwd, given);
    if (!existsSync(file)) throw new ConfigError([`config file not found: ${file}`], file);
    try {
      const result = await explorer.load(file);
      raw = result?.config ?? {};
    } catch (error) {
      throw new ConfigError([`cannot parse ${file}: ${(error as Error).message}`], file);
    }
    filepath = file;
  } else {
    const result = await explorer.search(cwd);
    if (result && !result.isEmpty) {
      raw = result.config;
      filepath = result.filepath;
    }
  }
  const configDir = filepath ? path.dirname(filepath) : cwd;
  // The zero-config default is a laptop registry: clients may register themselves, as
  // long as it listens on loopback only (`--host 0.0.0.0` turns self-registration off).
  if (!filepath) {
    const host = options.overrides?.host ?? hostFromEnv(env) ?? configSchema.properties.server.properties.host.default;
    const loopback = host === 'localhost' || host === '::1' || host.startsWith('127.');
    raw = { auth: { allowRegistration: loopback } };
  }
  // The data folder pinned outside the file: --data-dir, else the environment.
  const pinned = options.overrides?.dataDir ? { dir: options.overrides.dataDir, from: 'option' as const } : env[DATA_DIR_ENV] ? { dir: env[DATA_DIR_ENV], from: 'env' as const } : undefined;
  const overrides = { ...options.overrides, ...(pinned ? { dataDir: path.resolve(cwd, pinned.dir) } : {}) };
  const config = normalizeConfig(raw, { configDir, env, filepath, overrides, envOverrides: true });
  const inFile = typeof raw === 'object' && raw !== null && 'dataDir' in raw;
  return { config, filepath, configDir, zeroConfig: filepath === undefined, dataDirFrom: pinned?.from ?? (inFile ? 'config' : 'default') };
}

/** Validate and default a parsed config object. Exported for tests and `config check`. */
export function normalizeConfig(
  input: unknown,
  context: { configDir: string; env: NodeJS.ProcessEnv; filepath?: string; overrides?: LoadConfigOptions['overrides']; envOverrides?: boolean },
): RegistryConfig {
  const errors: string[] = [];
  let expanded = expandEnv(input ?? {}, context.env, '', errors);
  // PORT, HOST and REGISTRY_CORE_<PATH> (loadConfig's; not for configs built in code)
  const fromEnv = context.envOverrides ? applyEnvOverrides(expanded, context.env, errors) : undefined;
  if (fromEnv) expanded = fromEnv.config;
  if (errors.length) throw new ConfigError(errors, context.filepath);
  if (!validateFile(expanded)) {
    // A key the environment set is named with its variable (never its value).
    const lines = formatAjvErrors(validateFile.errors ?? []).map((line) => {
      const by = fromEnv?.applied.find(({ path }) => line.startsWith(`${path.join('.')}:`) || line.startsWith(`${path.join('.')}.`));
      return by ? `${line} (from ${by.variable})` : line;
    });
    throw new ConfigError(lines, context.filepath);
  }
  // Every default the schema declares is in place now (ajv's useDefaults).
  const c = expanded as ConfigFile;
  const resolve = (p: string) => path.resolve(context.configDir, p);

  const dataDir = context.overrides?.dataDir ? path.resolve(context.overrides.dataDir) : resolve(c.dataDir);
  const server = {
    host: context.overrides?.host ?? c.server.host,
    port: context.overrides?.port ?? Number(c.server.port),
    publicUrl: c.server.publicUrl,
    trustProxy: c.server.trustProxy,
    shutdownTimeoutSeconds: c.server.shutdownTimeoutSeconds,
    workers: c.server.workers === 'auto' ? availableParallelism() : c.server.workers,
    directReplies: c.server.directReplies,
    releaseMemoryWhenIdle: c.server.releaseMemoryWhenIdle,
    heapGrowthPercent: c.server.heapGrowthPercent,
    youngGenerationBytes: parseSize(c.server.youngGenerationSize)!,
    memoryCacheBytes: parseSize(c.server.memoryCacheSize)!,
    derivedCacheBytes: parseSize(c.server.derivedCacheSize)!,
    derivedDiskBytes: parseSize(c.server.derivedDiskSize)!,
    metadataMemoryBytes: parseSize(c.server.metadataMemory)!,
    metadataMemoryWaitMs: Math.round(c.server.metadataMemoryWaitSeconds * 1000),
    minBodyRate: parseSize(c.server.minBodyRate)!,
    minBodyRateWindowSeconds: c.server.minBodyRateWindowSeconds,
    maxConnectionsPerClient: c.server.maxConnectionsPerClient,
    maxUpstreamConnections: c.server.maxUpstreamConnections,
  };
  if (server.publicUrl !== undefined && !isHttpUrl(server.publicUrl)) errors.push('server.publicUrl: must be an http(s) URL');

  const plugins: PluginEntry[] = c.plugins.map((p) => (typeof p === 'string' ? { name: p, options: {} } : { name: p.name, options: p.options ?? {} }));

  const storage = { ...c.storage } as Record<string, StorageConfig>;
  if (!storage['default']) storage['default'] = { driver: 'fs', path: path.join(dataDir, 'blobs') };
  for (const [name, s] of Object.entries(storage)) {
    if (s.driver === 'fs') {
      if (typeof s['path'] !== 'string') errors.push(`storage.${name}.path: required for the fs driver`);
      else storage[name] = { ...s, path: resolve(s['path']) };
    }
    const redirect = parseRedirect(s.redirect as unknown, `storage.${name}.redirect`, errors);
    const { redirect: _given, ...rest } = storage[name]!;
    storage[name] = { ...rest, driver: s.driver, ...(redirect ? { redirect } : {}) };
  }

  const metadata =
    c.metadata.type === 'postgres'
      ? { type: 'postgres' as const, url: String(c.metadata.url ?? ''), poolSize: c.metadata.poolSize, statementTimeoutMs: c.metadata.statementTimeoutMs, ssl: c.metadata.ssl, migrate: c.metadata.migrate }
      : { type: 'sqlite' as const, path: resolve(c.metadata.path ?? path.join(dataDir, 'registry.sqlite')), migrate: c.metadata.migrate };
  if (metadata.type === 'postgres' && !metadata.url) errors.push('metadata.url: required when metadata.type is postgres');
  // Globs become regular expressions: keep them short and their wildcards few (no ReDoS).
  c.auth.permissions.forEach((rule, i) => {
    for (const key of ['repositories', 'packages'] as const) {
      (rule[key] ?? []).forEach((glob, j) => {
        if (glob.length > 256 || (glob.match(/[*?]/g) ?? []).length > 8) errors.push(`auth.permissions[${i}].${key}[${j}]: at most 256 characters and 8 wildcards`);
      });
    }
  });

  const limits = { maxUploadBytes: parseSize(c.limits.maxUploadSize)!, maxSearchResults: c.limits.maxSearchResults };

  const repositories: Record<string, RepositoryConfig> = {};
  for (const [name, r] of Object.entries(c.repositories)) {
    const at = `repositories.${name}`;
    if (r.type === 'proxy') {
      // No upstream: the format's default (FormatDefinition.defaultUpstream), filled in once
      // the plugins are active (withDefaultUpstreams); without one the repository is unavailable.
      if (r.upstream !== undefined && !isHttpUrl(r.upstream)) errors.push(`${at}.upstream: must be an http(s) URL`);
      else if (r.upstream !== undefined && (new URL(r.upstream).username || new URL(r.upstream).password)) errors.push(`${at}.upstream: must not carry credentials (user:password@); upstream requests never send any`);
    } else if (r.upstream !== undefined) {
      errors.push(`${at}.upstream: only a proxy repository has an upstream`);
    }
    if (r.type === 'group' && !r.members) errors.push(`${at}.members: required for a group repository`);
    if (r.type !== 'group' && r.members !== undefined) errors.push(`${at}.members: only a group repository has members`);
    if (r.type !== 'group' && r.routing !== undefined) errors.push(`${at}.routing: only a group repository routes names to members`);
    if (!storage[r.storage]) errors.push(`${at}.storage: no storage named "${r.storage}"`);
    const { cache, maxUploadSize, upstreamAuth: auth, ...rest } = r;
    const upstreamAuth = auth === undefined ? undefined : upstreamCredentials(auth, `${at}.upstreamAuth`, r.type, resolve, errors);
    (cache.allowedOrigins ?? []).forEach((origin, i) => {
      if (!isOrigin(origin)) errors.push(`${at}.cache.allowedOrigins[${i}]: must be an origin, scheme://host[:port] with http or https and no path`);
    });
    repositories[name] = {
      ...rest,
      ...(upstreamAuth ? { upstreamAuth } : {}),
      maxUploadBytes: parseSize(maxUploadSize) ?? limits.maxUploadBytes,
      cache: cacheConfig(cache),
    };
  }
  errors.push(...checkGroups(repositories));
  const ports = new Map<number, string>();
  for (const [name, r] of Object.entries(repositories)) {
    if (r.port === undefined || r.port === 0) continue;
    if (r.port === server.port) errors.push(`repositories.${name}.port: ${r.port} is the server's own port`);
    const other = ports.get(r.port);
    if (other) errors.push(`repositories.${name}.port: ${r.port} is already the port of ${other}`);
    ports.set(r.port, name);
  }
  const webName = c.web.prefix.replace(/\//g, '');
  if (webName && repositories[webName]) errors.push(`web.prefix: ${c.web.prefix} is the path of the repository ${webName}`);
  for (const name of Object.keys(c.cleanup.maxCacheSize)) {
    if (!storage[name]) errors.push(`cleanup.maxCacheSize.${name}: no storage named "${name}"`);
  }

  if (errors.length) throw new ConfigError(errors, context.filepath);
  return {
    server,
    dataDir,
    plugins,
    storage,
    metadata,
    auth: { ...c.auth, permissions: c.auth.permissions as PermissionRule[] },
    limits,
    cleanup: {
      intervalHours: c.cleanup.intervalHours,
      unusedDays: c.cleanup.unusedDays,
      uploadExpiryHours: c.cleanup.uploadExpiryHours,
      tmpFileGraceSeconds: c.cleanup.tmpFileGraceSeconds,
      maxCacheBytes: Object.fromEntries(Object.entries(c.cleanup.maxCacheSize).map(([k, v]) => [k, parseSize(v)!])),
    },
    logging: c.logging,
    analytics: c.analytics,
    metrics: c.metrics,
    web: c.web,
    repositories,
  };
}

const fillRepository = new Ajv({ strict: false, useDefaults: true }).compile(configSchema.properties.repositories.additionalProperties);

/**
 * A repository the host makes itself (the zero-config default): the block given, the
 * schema's defaults, and the config's upload limit.
 */
export function defaultRepository(
  block: Pick<RepositoryConfig, 'format' | 'type' | 'upstream'> & { readonly members?: readonly string[] },
  limits: RegistryConfig['limits'],
): RepositoryConfig {
  const filled = structuredClone(block) as RepositoryBlock;
  if (!fillRepository(filled)) throw new Error(`invalid repository ${JSON.stringify(block)}: ${formatAjvErrors(fillRepository.errors ?? []).join('; ')}`);
  const { cache, maxUploadSize: _none, upstreamAuth: _neither, ...rest } = filled;
  return { ...rest, maxUploadBytes: limits.maxUploadBytes, cache: cacheConfig(cache) };
}

/** A repository's `cache` block (defaults applied) in the units the engine uses. */
function cacheConfig(cache: RepositoryBlock['cache']): CacheConfig {
  return {
    metadataTtl: cache.metadataTtl,
    negativeTtl: cache.negativeTtl,
    connectTimeoutMs: Math.round(cache.connectTimeout * 1000),
    upstreamTimeoutMs: Math.round(cache.upstreamTimeout * 1000),
    idleTimeoutMs: Math.round(cache.idleTimeout * 1000),
    transferTimeoutMs: Math.round(cache.transferTimeout * 1000),
    minTransferRate: parseSize(cache.minTransferRate)!,
    ...(cache.maxMetadataSize !== undefined ? { maxMetadataBytes: parseSize(cache.maxMetadataSize)! } : {}),
    ...(cache.allowedOrigins !== undefined ? { allowedOrigins: cache.allowedOrigins } : {}),
    allowPrivateAddresses: cache.allowPrivateAddresses,
    retries: cache.retries,
    maxUpstreamConnections: cache.maxUpstreamConnections,
    staleWhileRevalidate: cache.staleWhileRevalidate,
    ...(cache.contentTtl !== undefined ? { contentTtl: cache.contentTtl } : {}),
    honorCacheControl: cache.honorCacheControl,
    breakerThreshold: cache.circuitBreaker.failures,
    breakerOpenMs: Math.round(cache.circuitBreaker.openSeconds * 1000),
  };
}

/** Group members must exist, share the group's format, and not form cycles. */
/**
 * `redirect: true` or `{ minSize: '1mb', expires: 300 }` → normalized; `false`/absent → off.
 * The URL lifetime is short on purpose: a redirect is answered with `no-store`, and a
 * client follows it at once.
 */
function parseRedirect(value: unknown, at: string, errors: string[]): StorageRedirectConfig | undefined {
  if (value === undefined || value === false) return undefined;
  const defaults = { minBytes: 1024 * 1024, expiresSeconds: 300 };
  if (value === true) return defaults;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    errors.push(`${at}: must be true, false, or { minSize, expires }`);
    return undefined;
  }
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v)) if (key !== 'minSize' && key !== 'expires') errors.push(`${at}.${key}: unknown key (minSize, expires)`);
  const minBytes = v['minSize'] === undefined ? defaults.minBytes : parseSize(v['minSize']);
  if (minBytes === undefined) errors.push(`${at}.minSize: must be a size such as 1mb`);
  const expires = v['expires'] ?? defaults.expiresSeconds;
  if (typeof expires !== 'number' || !Number.isInteger(expires) || expires < 10 || expires > 86_400) errors.push(`${at}.expires: must be whole seconds from 10 to 86400`);
  return { minBytes: minBytes ?? defaults.minBytes, expiresSeconds: Number(expires) };
}

/**
 * `upstreamAuth`: `{ username, password | passwordFile }` or `{ token | tokenFile }`, secrets
 * from `${VAR}` or from a file (read now, a trailing newline dropped). Proxies only.
 */
function upstreamCredentials(
  auth: { username?: string; password?: string; passwordFile?: string; token?: string; tokenFile?: string },
  at: string,
  type: string,
  resolve: (p: string) => string,
  errors: string[],
): RepositoryConfig['upstreamAuth'] {
  if (type !== 'proxy') {
    errors.push(`${at}: only a proxy repository has an upstream to sign in to`);
    return undefined;
  }
  const read = (file: string, key: string): string | undefined => {
    try {
      const text = readFileSync(resolve(file), 'utf8').replace(/\r?\n$/, '');
      if (text === '') errors.push(`${at}.${key}: ${file} is empty`);
      return text;
    } catch (error) {
      errors.push(`${at}.${key}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      return undefined;
    }
  };
  const secrets = [auth.password, auth.passwordFile, auth.token, auth.tokenFile].filter((v) => v !== undefined).length;
  if (secrets !== 1) {
    errors.push(`${at}: give exactly one of password, passwordFile (with username), token or tokenFile`);
    return undefined;
  }
  if (auth.token !== undefined || auth.tokenFile !== undefined) {
    if (auth.username !== undefined) errors.push(`${at}.username: a token goes without a username`);
    const token = auth.token ?? read(auth.tokenFile!, 'tokenFile');
    if (token !== undefined && !/^[\x21-\x7e]+$/.test(token)) errors.push(`${at}: the token must be printable ASCII without spaces`);
    return token === undefined ? undefined : { token };
  }
  if (auth.username === undefined) {
    errors.push(`${at}.username: required with a password`);
    return undefined;
  }
  if (auth.username.includes(':')) errors.push(`${at}.username: must not contain ":"`);
  const password = auth.password ?? read(auth.passwordFile!, 'passwordFile');
  return password === undefined ? undefined : { username: auth.username, password };
}

function checkGroups(repositories: Record<string, RepositoryConfig>): string[] {
  const errors: string[] = [];
  for (const [name, r] of Object.entries(repositories)) {
    if (r.type !== 'group') continue;
    (r.members ?? []).forEach((m, i) => {
      const member = repositories[m];
      if (!member) errors.push(`repositories.${name}.members[${i}]: no repository named "${m}"`);
      else if (member.format !== r.format) errors.push(`repositories.${name}.members[${i}]: "${m}" is format ${member.format}, the group is ${r.format}`);
      else if (m === name) errors.push(`repositories.${name}.members[${i}]: a group cannot contain itself`);
    });
    for (const [pattern, claimed] of Object.entries(r.routing ?? {})) {
      claimed.forEach((m, i) => {
        if (!(r.members ?? []).includes(m)) errors.push(`repositories.${name}.routing["${pattern}"][${i}]: "${m}" is not a member of ${name}`);
      });
    }
    const seen = new Set<string>();
    const visit = (n: string): boolean => {
      if (seen.has(n)) return true;
      seen.add(n);
      const rr = repositories[n];
      const cyclic = rr?.type === 'group' && (rr.members ?? []).some((m) => m === name || (repositories[m]?.type === 'group' && visit(m)));
      return cyclic;
    };
    if ((r.members ?? []).some((m) => repositories[m]?.type === 'group' && (m === name || visit(m)))) {
      errors.push(`repositories.${name}.members: groups form a cycle`);
    }
  }
  return errors;
}

/** `http(s)://host[:port]` and nothing else (a trailing slash is tolerated). */
function isOrigin(value: string): boolean {
  if (!/^https?:\/\/[^/?#]+\/?$/i.test(value)) return false;
  try {
    const u = new URL(value);
    return u.username === '' && u.password === '' && `${u.origin}/` === u.href;
  } catch {
    return false;
  }
}

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/** ajv's errors as lines `path: message`; `prefix` is the path of the validated value (a plugin's block). */
export function formatAjvErrors(errors: readonly ErrorObject[], prefix = ''): string[] {
  const out = new Set<string>();
  for (const e of errors) {
    // anyOf branches repeat their children's errors; the anyOf line says it once.
    if (e.keyword === 'anyOf' || e.keyword === 'if') continue;
    const relative = e.instancePath.replace(/^\//, '').replace(/\/(\d+)(?=\/|$)/g, '[$1]').replace(/\//g, '.');
    let at = [prefix, relative].filter(Boolean).join('.');
    if (e.keyword === 'additionalProperties') {
      const key = (e.params as { additionalProperty: string }).additionalProperty;
      out.add(`${at ? `${at}.` : ''}${key}: unknown key`);
      continue;
    }
    if (e.keyword === 'required') {
      const key = (e.params as { missingProperty: string }).missingProperty;
      out.add(`${at ? `${at}.` : ''}${key}: required`);
      continue;
    }
    if (e.keyword === 'propertyNames') {
      out.add(`${at}: repository names must be lowercase letters, digits, '.', '_' or '-' (${(e.params as { propertyName: string }).propertyName})`);
      continue;
    }
    if (e.keyword === 'enum') {
      out.add(`${at}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`);
      continue;
    }
    if (e.keyword === 'pattern' && at.endsWith('Size')) {
      out.add(`${at}: must be a size such as 100mb`);
      continue;
    }
    at = at || '(root)';
    out.add(`${at}: ${e.message ?? 'invalid'}`);
  }
  return [...out];
}
