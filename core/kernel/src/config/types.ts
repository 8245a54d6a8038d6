import type { FromSchema } from 'json-schema-to-ts';
import type { configSchema } from './schema.js';

/**
 * A config file as validated, with the schema's defaults applied: inferred from
 * `configSchema`, so the schema is the one description of the keys (a key with a default
 * is never undefined here). The types below are the normalized layer built from it.
 */
export type ConfigFile = FromSchema<typeof configSchema>;
/** One block of `repositories` as validated (format-specific keys included). */
export type RepositoryBlock = ConfigFile['repositories'][string];

/** `T` with every property, at every depth, read-only. */
export type DeepReadonly<T> = T extends (infer U)[] ? readonly DeepReadonly<U>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** A plugin entry: a package name or a path, optionally with options. */
export interface PluginEntry {
  readonly name: string;
  readonly options: Readonly<Record<string, unknown>>;
}

export interface StorageConfig {
  readonly driver: string;
  /**
   * Send clients of large downloads to the object store (a presigned URL) instead of
   * streaming the bytes through this process; read by the host, never passed to the driver.
   */
  readonly redirect?: StorageRedirectConfig;
  readonly [option: string]: unknown;
}

/** `storage.<name>.redirect`, normalized. */
export interface StorageRedirectConfig {
  /** Files at least this large are redirected; smaller ones are served here (memory cache). */
  readonly minBytes: number;
  /** Lifetime of each presigned URL. */
  readonly expiresSeconds: number;
}

export type MetadataConfig = (
  | { readonly type: 'sqlite'; readonly path: string }
  | {
      readonly type: 'postgres';
      readonly url: string;
      readonly poolSize?: number;
      readonly statementTimeoutMs?: number;
      readonly ssl?: boolean | Record<string, unknown>;
    }
) & {
  /** Run pending migrations when the server starts (default true); else `registry-core db migrate`. */
  readonly migrate?: boolean;
};

export type StaticUser = DeepReadonly<ConfigFile['auth']['users'][string]>;

/**
 * `auth`: `anonymousRead` (a repository can override it), `allowRegistration` (`npm
 * adduser`), `tokenTtlSeconds` (0: no expiry), `cacheSeconds` (how long a checked token or
 * password is trusted before the metadata store is asked again), static `users`, and `providers` in order
 * (`builtin` is the users of the config and the metadata store).
 */
export interface AuthConfig extends DeepReadonly<Omit<ConfigFile['auth'], 'permissions'>> {
  /** Who may read, write, delete and administer which repositories and package names. */
  readonly permissions: readonly import('../auth/permissions.js').PermissionRule[];
}

export interface CacheConfig {
  /** Seconds metadata stays fresh before it is revalidated upstream. */
  readonly metadataTtl: number;
  /** Seconds cached content (artifacts) stays fresh; undefined: immutable, never revalidated. */
  readonly contentTtl?: number;
  /** Seconds an upstream 404 is remembered. */
  readonly negativeTtl: number;
  /** Milliseconds a connection to the upstream (TCP and TLS) may take to open. */
  readonly connectTimeoutMs: number;
  /** Milliseconds to wait for the upstream's response headers. */
  readonly upstreamTimeoutMs: number;
  /** Milliseconds an upstream body may stall between two chunks before it is cut. */
  readonly idleTimeoutMs: number;
  /**
   * Milliseconds an upstream body may take in all, plus a second per `minTransferRate`
   * bytes received (time the registry holds the body back does not count).
   */
  readonly transferTimeoutMs: number;
  /** Bytes per second that extend `transferTimeoutMs`; 0: a flat budget. */
  readonly minTransferRate: number;
  /** Largest upstream metadata document accepted and parsed; undefined: the format's default. */
  readonly maxMetadataBytes?: number;
  /**
   * Origins (`scheme://host[:port]`) besides the upstream's own that content URLs found in
   * upstream metadata, and redirects, may point at.
   */
  readonly allowedOrigins?: readonly string[];
  /**
   * Let connections to hosts other than the upstream's own reach loopback, link-local,
   * private and CGNAT addresses (off: such connections are refused).
   */
  readonly allowPrivateAddresses?: boolean;
  /**
   * Seconds past its TTL during which expired metadata is served at once (as a HIT) while
   * it is refreshed in the background; 0 turns this off.
   */
  readonly staleWhileRevalidate: number;
  /** Take metadata TTLs from the upstream's Cache-Control (max-age, s-maxage, no-cache). */
  readonly honorCacheControl: boolean;
  /** Extra attempts after a network error or a 502/503/504 from the upstream. */
  readonly retries: number;
  /** Most connections open at once to one upstream origin; absent: no limit of the proxy's own. */
  readonly maxUpstreamConnections?: number;
  /** Consecutive upstream failures that open the circuit breaker. */
  readonly breakerThreshold: number;
  /** Milliseconds the breaker stays open before one probe is let through. */
  readonly breakerOpenMs: number;
}

/** A repository, normalized: the kernel's keys of its block, computed fields, and the format's own keys. */
export interface RepositoryConfig extends DeepReadonly<Pick<RepositoryBlock, 'format' | 'type' | 'upstream' | 'members' | 'anonymousRead' | 'port'>> {
  /**
   * A proxy's credentials for its upstream (`upstreamAuth`, files already read): sent to the
   * upstream's own origin only, and used to buy tokens from its token service.
   */
  readonly upstreamAuth?: { readonly username: string; readonly password: string } | { readonly token: string };
  /**
   * A group's namespace claims: package-name patterns (`*` matches any run of characters,
   * `@acme/*`, `com.acme.*`) to the members that alone answer for matching names, reads and
   * writes alike; the first pattern that matches, in the order written, applies.
   */
  readonly routing?: Readonly<Record<string, readonly string[]>>;
  /** Name of the `storage` entry holding this repository's blobs. */
  readonly storage: string;
  readonly cache: CacheConfig;
  readonly maxUploadBytes: number;
  readonly [formatSpecific: string]: unknown;
}

/** `server`: `trustProxy` honours X-Forwarded-*; `shutdownTimeoutSeconds` is what in-flight requests get at shutdown. */
export interface ServerConfig extends DeepReadonly<Pick<ConfigFile['server'], 'host' | 'publicUrl' | 'trustProxy' | 'shutdownTimeoutSeconds'>> {
  readonly port: number;
  /** Processes serving the port (`server.workers`, `auto` resolved to the number of cores). */
  readonly workers: number;
  /** Hot answers written straight to the socket (`server.directReplies`, default true); see http/direct-replies.ts. */
  readonly directReplies: boolean;
  /** Garbage collections that give memory back before `start` takes traffic and when the process goes quiet after work (`server.releaseMemoryWhenIdle`, default true); see registry/idle-memory.ts. */
  readonly releaseMemoryWhenIdle: boolean;
  /** How far V8's heap grows past what its last full collection kept, in percent (`server.heapGrowthPercent`, default 50; 0: V8's own choice); set by `start` for the process, see registry/idle-memory.ts. */
  readonly heapGrowthPercent: number;
  /** Where `start` stops V8's young generation growing (`server.youngGenerationSize`, default 8 MB; 0: V8's own, up to 32 MB); see registry/idle-memory.ts. */
  readonly youngGenerationBytes: number;
  /** Bytes of small stored files (up to 1 MiB each) kept in memory; 0 turns it off. */
  readonly memoryCacheBytes: number;
  /** Bytes of values formats derive from stored data (parsed indexes, rendered answers) kept in memory. */
  readonly derivedCacheBytes: number;
  /** Bytes of files for rendered answers the derived memory lets go (`server.derivedDiskSize`, default 256 MB; 0: none); see engine/derived-disk.ts. */
  readonly derivedDiskBytes: number;
  /** Bytes all requests' metadata documents may take while read and parsed (0: no limit). */
  readonly metadataMemoryBytes: number;
  /** Milliseconds a request waits for {@link metadataMemoryBytes} before a 503. */
  readonly metadataMemoryWaitMs: number;
  /** Bytes per second below which a request body is refused with 408 (0: off). */
  readonly minBodyRate: number;
  /** The window {@link minBodyRate} is measured over. */
  readonly minBodyRateWindowSeconds: number;
  /** Most concurrent connections from one client address (0: no limit). */
  readonly maxConnectionsPerClient: number;
  /** Most upstream connections of all proxies together, open at once. */
  readonly maxUpstreamConnections: number;
}

export interface LimitsConfig {
  readonly maxUploadBytes: number;
  readonly maxSearchResults: number;
}

/**
 * `cleanup`: `intervalHours` between scheduled cleanups (0: off); cached content not
 * downloaded for `unusedDays` is removed; upload sessions untouched `uploadExpiryHours`.
 */
export interface CleanupConfig extends DeepReadonly<Omit<ConfigFile['cleanup'], 'maxCacheSize'>> {
  /** Per storage name: most bytes of cached proxy content to keep. */
  readonly maxCacheBytes: Readonly<Record<string, number>>;
}

/** `analytics`: download counting, how often counts are written, how long daily rows are kept. */
export type AnalyticsConfig = DeepReadonly<ConfigFile['analytics']>;

/** The validated, defaulted configuration. Paths are absolute. */
export interface RegistryConfig {
  readonly server: ServerConfig;
  readonly dataDir: string;
  readonly plugins: readonly PluginEntry[];
  readonly storage: Readonly<Record<string, StorageConfig>>;
  readonly metadata: MetadataConfig;
  readonly auth: AuthConfig;
  readonly limits: LimitsConfig;
  readonly cleanup: CleanupConfig;
  readonly logging: DeepReadonly<ConfigFile['logging']>;
  readonly analytics: AnalyticsConfig;
  readonly metrics: DeepReadonly<ConfigFile['metrics']>;
  readonly web: DeepReadonly<ConfigFile['web']>;
  readonly repositories: Readonly<Record<string, RepositoryConfig>>;
}

/** A loaded configuration and where it came from. */
export interface LoadedConfig {
  readonly config: RegistryConfig;
  /** The file it was read from; undefined for the zero-config default. */
  readonly filepath: string | undefined;
  /** Folder relative paths are resolved against. */
  readonly configDir: string;
  /** True when no config file was found and the zero-config default applies. */
  readonly zeroConfig: boolean;
  /**
   * Where `dataDir` came from: `option` (`--data-dir`), `env` (REGISTRY_CORE_DATA_DIR),
   * `config` (the file's `dataDir`), or `default` (`./registry-data` under the config's folder,
   * or under the current folder when there is no config file). Absent: not known.
   */
  readonly dataDirFrom?: 'option' | 'env' | 'config' | 'default';
}
