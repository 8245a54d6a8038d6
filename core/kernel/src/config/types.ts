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

export interface StaticUser {
  readonly passwordHash: string;
  readonly roles: readonly string[];
}

export interface AuthConfig {
  /** May anonymous clients read (default true). A repository can override it. */
  readonly anonymousRead: boolean;
  /** May clients create users themselves (`npm adduser`). */
  readonly allowRegistration: boolean;
  readonly users: Readonly<Record<string, StaticUser>>;
  /** Auth providers in order; `builtin` is the users of the config and the metadata store. */
  readonly providers: readonly { readonly id: string; readonly [option: string]: unknown }[];
  /** Lifetime of tokens issued by logins, in seconds (0: no expiry). */
  readonly tokenTtlSeconds: number;
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
  /** Consecutive upstream failures that open the circuit breaker. */
  readonly breakerThreshold: number;
  /** Milliseconds the breaker stays open before one probe is let through. */
  readonly breakerOpenMs: number;
}

export interface RepositoryConfig {
  readonly format: string;
  readonly type: 'hosted' | 'proxy' | 'group';
  readonly upstream?: string;
  readonly members?: readonly string[];
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
  /** Overrides `auth.anonymousRead` for this repository. */
  readonly anonymousRead?: boolean;
  /**
   * A port of its own (0: any free one): every path on it is this repository's, for
   * clients that must talk to a host root (Docker's `registry-mirrors`).
   */
  readonly port?: number;
  readonly maxUploadBytes: number;
  readonly [formatSpecific: string]: unknown;
}

export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  readonly publicUrl?: string;
  /** Honour X-Forwarded-Proto/Host/For from a reverse proxy. */
  readonly trustProxy: boolean;
  /** Seconds in-flight requests get to finish at shutdown. */
  readonly shutdownTimeoutSeconds: number;
  /** Bytes of small stored files (up to 1 MiB each) kept in memory; 0 turns it off. */
  readonly memoryCacheBytes: number;
  /** Bytes of values formats derive from stored data (parsed indexes, rendered answers) kept in memory. */
  readonly derivedCacheBytes: number;
}

export interface LimitsConfig {
  readonly maxUploadBytes: number;
  readonly maxSearchResults: number;
}

export interface CleanupConfig {
  /** Hours between scheduled cleanups; 0 turns the schedule off. */
  readonly intervalHours: number;
  /** Cached content (and expired metadata) not downloaded for this many days is removed. */
  readonly unusedDays: number;
  /** Resumable upload sessions untouched this long are removed with their bytes. */
  readonly uploadExpiryHours: number;
  /** Per storage name: most bytes of cached proxy content to keep. */
  readonly maxCacheBytes: Readonly<Record<string, number>>;
}

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
  readonly logging: { readonly level: 'debug' | 'info' | 'warn' | 'error'; readonly format: 'json' | 'pretty' | 'auto' };
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
}
