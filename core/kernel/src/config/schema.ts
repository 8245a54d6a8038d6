/**
 * The config file's JSON schema (draft-07): the one description of the kernel's keys.
 * Validation (ajv), the defaults (applied from `default` by ajv's `useDefaults`), the
 * TypeScript type of a validated file (`ConfigFile` in types.ts, inferred from this
 * object) and the schema `registry-core config schema` prints all come from it. Defaults
 * that depend on other keys (the `default` storage and the sqlite file under `dataDir`, a
 * repository's upload limit from `limits`) are computed in load-config.ts; no literal
 * default is written anywhere else.
 */

const SIZE_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*([kKmMgG]?[bB]?)\\s*$';
/** A byte count: a whole number, or `100mb`, `1.5gb`, `512k`. */
const size = { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: SIZE_PATTERN }] } as const;
const seconds = { type: 'number', minimum: 0 } as const;
/** A timeout in seconds: 0 would mean "none" to the HTTP client, so it is refused. */
const timeout = { type: 'number', exclusiveMinimum: 0 } as const;
const names = { type: 'array', items: { type: 'string', minLength: 1 } } as const;

/** A repository block: the kernel's keys (`KERNEL_OWNED_KEYS.formats` of the contract); the format's keys come from its plugin. */
const repositorySchema = {
  type: 'object',
  required: ['format', 'type'],
  properties: {
    format: { type: 'string', minLength: 1, description: 'The format (ecosystem) this repository serves: npm, pypi, oci, maven, or a plugin\'s.' },
    type: { enum: ['hosted', 'proxy', 'group'], description: 'hosted: stores what is published to it; proxy: caches an upstream; group: one URL over its members.' },
    upstream: {
      type: 'string',
      description: 'A proxy\'s upstream registry (http or https URL). Absent: the format\'s default upstream, as its plugin documents (npm: the registry of the local npm config; PyPI: pip\'s index-url, else the Python Package Index; OCI: Docker Hub; Maven: the mirror in settings.xml, else Maven Central; Zig: GitHub, a URL cache of archives).',
    },
    members: { type: 'array', items: { type: 'string' }, minItems: 1, description: 'A group\'s members, in the order they are asked.' },
    routing: {
      type: 'object',
      description: 'A group\'s namespace claims: package-name pattern to the members that alone answer for it.',
      propertyNames: { minLength: 1, maxLength: 512 },
      additionalProperties: { type: 'array', items: { type: 'string' }, minItems: 1 },
    },
    storage: { type: 'string', default: 'default', description: 'Name of the `storage` entry holding this repository\'s blobs.' },
    upstreamAuth: {
      type: 'object',
      description: 'A proxy\'s credentials for its upstream: username with password or passwordFile, or token or tokenFile.',
      additionalProperties: false,
      properties: {
        username: { type: 'string', minLength: 1 },
        password: { type: 'string', minLength: 1 },
        passwordFile: { type: 'string', minLength: 1 },
        token: { type: 'string', minLength: 1 },
        tokenFile: { type: 'string', minLength: 1 },
      },
    },
    anonymousRead: { type: 'boolean', description: 'Overrides auth.anonymousRead for this repository.' },
    port: { type: 'integer', minimum: 0, maximum: 65535, description: 'A port of its own (0: any free one) where every path is this repository\'s.' },
    maxUploadSize: { ...size, description: 'Largest upload; default limits.maxUploadSize.' },
    cache: {
      type: 'object',
      description: 'A proxy\'s cache and upstream connection settings (seconds).',
      default: {},
      additionalProperties: false,
      properties: {
        metadataTtl: { ...seconds, default: 300 },
        contentTtl: { ...seconds, description: 'Absent: cached content is immutable, never revalidated.' },
        negativeTtl: { ...seconds, default: 60 },
        connectTimeout: { ...timeout, default: 10 },
        upstreamTimeout: { ...timeout, default: 30 },
        idleTimeout: { ...timeout, default: 60 },
        transferTimeout: { ...timeout, default: 300, description: 'Seconds an upstream body may take, plus a second per `minTransferRate` bytes received; over it the download is cut and nothing is cached.' },
        minTransferRate: { ...size, default: '16kb', description: 'Bytes per second of an upstream body that extend its `transferTimeout` budget (0: the budget is flat).' },
        maxMetadataSize: {
          ...size,
          description: 'Largest metadata document (packument, index page, tag list, maven-metadata.xml) accepted from the upstream and parsed; larger ones are answered 502 and never cached. Default: the format\'s own (npm and PyPI 64mb, Maven 16mb, OCI tag lists 16mb).',
        },
        allowedOrigins: { type: 'array', items: { type: 'string' }, description: 'Origins besides the upstream\'s own that content URLs and redirects may point at.' },
        allowPrivateAddresses: { type: 'boolean', default: false },
        retries: { type: 'integer', minimum: 0, maximum: 10, default: 2 },
        maxUpstreamConnections: {
          type: 'integer',
          minimum: 1,
          default: 64,
          description: 'Most connections this proxy has open at once to one upstream origin (audits and searches too); further requests wait up to upstreamTimeout, at most 1024 of them, then get 503.',
        },
        staleWhileRevalidate: { ...seconds, default: 0 },
        honorCacheControl: { type: 'boolean', default: false },
        circuitBreaker: {
          type: 'object',
          default: {},
          additionalProperties: false,
          properties: { failures: { type: 'integer', minimum: 1, default: 5 }, openSeconds: { ...seconds, default: 30 } },
        },
      },
    },
  },
} as const;

const storageSchema = {
  type: 'object',
  required: ['driver'],
  properties: {
    driver: { type: 'string', minLength: 1, description: 'The storage driver: fs, s3, azure, or a plugin\'s.' },
    redirect: { description: 'Send large downloads straight from the object store: true, false, or { minSize, expires }.' },
  },
} as const;

/** JSON schema of the config file. Repository, storage and provider blocks allow their plugin's keys. */
export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    $schema: { type: 'string' },
    server: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        host: { type: 'string', minLength: 1, default: '127.0.0.1' },
        port: { anyOf: [{ type: 'integer', minimum: 0, maximum: 65535 }, { type: 'string', pattern: '^\\d+$' }], default: 4000 },
        publicUrl: { type: 'string', description: 'The address clients use; written into metadata URLs.' },
        trustProxy: { type: 'boolean', default: false, description: 'Honour X-Forwarded-* from a reverse proxy.' },
        shutdownTimeoutSeconds: { ...seconds, default: 10 },
        workers: {
          anyOf: [{ type: 'integer', minimum: 1, maximum: 256 }, { type: 'string', enum: ['auto'] }],
          default: 1,
          description: 'Processes serving the one port (node:cluster), sharing the metadata store and blob stores; "auto": one per core. Memory caches and counters are per worker.',
        },
        directReplies: {
          type: 'boolean',
          default: true,
          description: 'Write hot answers (replays of cached small files and rendered metadata) straight to the socket for connections that have asked only for such answers so far; false: every request goes through Node\'s HTTP server.',
        },
        releaseMemoryWhenIdle: {
          type: 'boolean',
          default: true,
          description: 'Before `start` takes traffic, and when the process goes quiet after work, run garbage collections that let V8 shrink its young generation and return free pages to the system.',
        },
        heapGrowthPercent: {
          type: 'integer',
          minimum: 0,
          maximum: 1000,
          default: 50,
          description: 'How far V8 lets its heap grow past what its last full garbage collection kept before it runs the next, in percent (50: to one and a half times that). With a heap limit of 2 GB or more V8 itself allows up to four times, which the resident memory pays for. Set by `start` for the whole process; 0 leaves it to V8.',
        },
        youngGenerationSize: {
          ...size,
          default: '8mb',
          description: 'Where `start` stops V8 from growing its young generation (both semi-spaces; V8 doubles it under load up to 32 MB, all of it resident). 0 leaves it to V8.',
        },
        memoryCacheSize: { ...size, default: '32mb' },
        derivedCacheSize: { ...size, default: '16mb' },
        derivedDiskSize: {
          ...size,
          default: '256mb',
          description: 'Disk (under dataDir/tmp, a folder per process, removed at stop) for rendered answers the derived memory lets go: read back instead of parsed and rendered again. 0 turns it off.',
        },
        metadataMemory: {
          ...size,
          default: '512mb',
          description: 'Memory all requests together may take for metadata documents being read and parsed (a document is counted three times its size); past it, requests wait metadataMemoryWaitSeconds, then get 503. 0: no limit.',
        },
        metadataMemoryWaitSeconds: { ...timeout, default: 10, description: 'How long a request waits for metadataMemory before its 503.' },
        minBodyRate: {
          ...size,
          default: '1kb',
          description: 'Bytes per second a request body must arrive at, measured over minBodyRateWindowSeconds; slower: 408 and the connection closed. 0: off.',
        },
        minBodyRateWindowSeconds: { ...timeout, default: 30, description: 'The window minBodyRate is measured over.' },
        maxConnectionsPerClient: {
          type: 'integer',
          minimum: 0,
          default: 256,
          description: 'Most open connections from one client address (loopback too); further requests get 503 and the connection closed. 0: no limit.',
        },
        maxUpstreamConnections: {
          type: 'integer',
          minimum: 1,
          default: 256,
          description: 'Most upstream connections all proxies together have open at once; further requests wait as for cache.maxUpstreamConnections.',
        },
      },
    },
    dataDir: { type: 'string', minLength: 1, default: './registry-data' },
    plugins: {
      type: 'array',
      default: [],
      description: 'Plugins: npm package names, or paths relative to this file.',
      items: {
        anyOf: [
          { type: 'string', minLength: 1 },
          {
            type: 'object',
            required: ['name'],
            additionalProperties: false,
            properties: { name: { type: 'string', minLength: 1 }, options: { type: 'object' } },
          },
        ],
      },
    },
    storage: {
      type: 'object',
      description: 'Named blob stores; "default" unless a repository names another.',
      additionalProperties: storageSchema,
    },
    metadata: {
      type: 'object',
      default: { type: 'sqlite' },
      required: ['type'],
      properties: {
        type: { enum: ['sqlite', 'postgres'] },
        path: { type: 'string' },
        url: { type: 'string' },
        poolSize: { type: 'integer', minimum: 1 },
        statementTimeoutMs: { type: 'integer', minimum: 0 },
        ssl: { anyOf: [{ type: 'boolean' }, { type: 'object' }] },
        migrate: { type: 'boolean', default: true },
      },
      additionalProperties: false,
    },
    auth: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        anonymousRead: { type: 'boolean', default: true },
        allowRegistration: { type: 'boolean', default: false },
        tokenTtlSeconds: { ...seconds, default: 0 },
        /** Seconds a checked token (its user, roles, expiry) is trusted without asking the metadata store. */
        cacheSeconds: { type: 'number', minimum: 0, maximum: 300, default: 5 },
        users: {
          type: 'object',
          default: {},
          additionalProperties: {
            type: 'object',
            required: ['passwordHash'],
            additionalProperties: false,
            properties: {
              passwordHash: { type: 'string', minLength: 1 },
              roles: { type: 'array', items: { type: 'string' }, default: [] },
            },
          },
        },
        providers: {
          type: 'array',
          default: [{ id: 'builtin' }],
          items: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
        },
        permissions: {
          type: 'array',
          default: [],
          items: {
            type: 'object',
            additionalProperties: false,
            properties: {
              repositories: { ...names, default: ['*'] },
              packages: names,
              read: names,
              write: names,
              delete: names,
              admin: names,
            },
          },
        },
      },
    },
    limits: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: { maxUploadSize: { ...size, default: '100mb' }, maxSearchResults: { type: 'integer', minimum: 1, maximum: 10000, default: 250 } },
    },
    cleanup: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        intervalHours: { type: 'number', minimum: 0, default: 24 },
        unusedDays: { type: 'number', minimum: 0, default: 90 },
        uploadExpiryHours: { type: 'number', exclusiveMinimum: 0, default: 24 },
        tmpFileGraceSeconds: {
          ...seconds,
          default: 3600,
          description: 'Temporary files (request spills, uploads, download spools) untouched this long are removed, at start and periodically: files a killed process left. Keep it above the longest upload when nodes share dataDir.',
        },
        maxCacheSize: { type: 'object', additionalProperties: size, default: {} },
      },
    },
    analytics: {
      type: 'object',
      default: {},
      additionalProperties: false,
      description: 'Download analytics: every file a client downloads, counted per repository, package, version and day in the metadata store.',
      properties: {
        enabled: { type: 'boolean', default: true },
        flushSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 3600, default: 5, description: 'Counts are held in memory and written this often (a crash loses at most this window).' },
        retentionDays: { type: 'integer', minimum: 1, default: 400, description: 'Daily rows older than this are removed by the scheduled maintenance.' },
      },
    },
    metrics: {
      type: 'object',
      default: {},
      additionalProperties: false,
      description: 'Prometheus metrics at /-/metrics.',
      properties: {
        enabled: { type: 'boolean', default: false },
        open: { type: 'boolean', default: false, description: 'Serve /-/metrics without credentials (else administrators only).' },
      },
    },
    logging: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        level: { enum: ['debug', 'info', 'warn', 'error'], default: 'info' },
        format: { enum: ['json', 'pretty', 'auto'], default: 'auto' },
        access: {
          type: 'boolean',
          default: true,
          description: 'One line per request at info level (method, path without its query, status, milliseconds, request id); false: at debug level only (a reverse proxy in front keeps its own access log).',
        },
        accessLogFile: {
          type: 'string',
          minLength: 1,
          description: 'The structured access log: one JSON line per request (repository, format, package, version, status, bytes, milliseconds, cache result, user; never a credential) appended to this file, relative to dataDir. Absent: off.',
        },
      },
    },
    web: {
      type: 'object',
      default: {},
      additionalProperties: false,
      description: 'The web interface, when a plugin contributing one (@registry-core/plugin-web) is installed.',
      properties: {
        enabled: { type: 'boolean', default: true, description: 'false: no web interface (the plugin is not activated).' },
        prefix: {
          type: 'string',
          default: '/',
          pattern: '^/([a-z0-9][a-z0-9._-]{0,63}/)?$',
          description: 'Where its page is served: / (browsers get the page, other clients the JSON list of repositories) or /<name>/ (a name no repository has). Its files are always under /-/web/.',
        },
        sessionHours: { type: 'number', exclusiveMinimum: 0, default: 12, description: 'How long a sign-in lasts (the session cookie and the token behind it).' },
      },
    },
    repositories: {
      type: 'object',
      default: {},
      description: 'Repositories, each mounted at /{name}/.',
      propertyNames: { pattern: '^[a-z0-9][a-z0-9._-]{0,63}$' },
      additionalProperties: repositorySchema,
    },
  },
} as const;
