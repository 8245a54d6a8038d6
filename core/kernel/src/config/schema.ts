const size = { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: '^\\s*\\d+(\\.\\d+)?\\s*([kKmMgG]?[bB]?)\\s*$' }] };
const seconds = { type: 'number', minimum: 0 };
/** A timeout: 0 would mean "none" to the HTTP client, so it is refused. */
const timeout = { type: 'number', exclusiveMinimum: 0 };

/** JSON schema of the config file (before defaults). Repository blocks allow format-specific keys. */
export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    $schema: { type: 'string' },
    server: {
      type: 'object',
      additionalProperties: false,
      properties: {
        host: { type: 'string', minLength: 1 },
        port: { anyOf: [{ type: 'integer', minimum: 0, maximum: 65535 }, { type: 'string', pattern: '^\\d+$' }] },
        publicUrl: { type: 'string' },
        trustProxy: { type: 'boolean' },
        shutdownTimeoutSeconds: seconds,
        memoryCacheSize: size,
        derivedCacheSize: size,
      },
    },
    dataDir: { type: 'string', minLength: 1 },
    plugins: {
      type: 'array',
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
      additionalProperties: {
        type: 'object',
        required: ['driver'],
        properties: { driver: { type: 'string', minLength: 1 } },
      },
    },
    metadata: {
      type: 'object',
      required: ['type'],
      properties: {
        type: { enum: ['sqlite', 'postgres'] },
        path: { type: 'string' },
        url: { type: 'string' },
        poolSize: { type: 'integer', minimum: 1 },
        statementTimeoutMs: { type: 'integer', minimum: 0 },
        ssl: { anyOf: [{ type: 'boolean' }, { type: 'object' }] },
        migrate: { type: 'boolean' },
      },
      additionalProperties: false,
    },
    auth: {
      type: 'object',
      additionalProperties: false,
      properties: {
        anonymousRead: { type: 'boolean' },
        allowRegistration: { type: 'boolean' },
        tokenTtlSeconds: seconds,
        users: {
          type: 'object',
          additionalProperties: {
            type: 'object',
            required: ['passwordHash'],
            additionalProperties: false,
            properties: {
              passwordHash: { type: 'string', minLength: 1 },
              roles: { type: 'array', items: { type: 'string' } },
            },
          },
        },
        providers: {
          type: 'array',
          items: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
        },
        permissions: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            properties: {
              repositories: { type: 'array', items: { type: 'string', minLength: 1 } },
              packages: { type: 'array', items: { type: 'string', minLength: 1 } },
              read: { type: 'array', items: { type: 'string', minLength: 1 } },
              write: { type: 'array', items: { type: 'string', minLength: 1 } },
              delete: { type: 'array', items: { type: 'string', minLength: 1 } },
              admin: { type: 'array', items: { type: 'string', minLength: 1 } },
            },
          },
        },
      },
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      properties: { maxUploadSize: size, maxSearchResults: { type: 'integer', minimum: 1, maximum: 10000 } },
    },
    cleanup: {
      type: 'object',
      additionalProperties: false,
      properties: {
        intervalHours: { type: 'number', minimum: 0 },
        unusedDays: { type: 'number', minimum: 0 },
        uploadExpiryHours: { type: 'number', exclusiveMinimum: 0 },
        maxCacheSize: { type: 'object', additionalProperties: size },
      },
    },
    logging: {
      type: 'object',
      additionalProperties: false,
      properties: { level: { enum: ['debug', 'info', 'warn', 'error'] }, format: { enum: ['json', 'pretty', 'auto'] } },
    },
    repositories: {
      type: 'object',
      propertyNames: { pattern: '^[a-z0-9][a-z0-9._-]{0,63}$' },
      additionalProperties: {
        type: 'object',
        required: ['format', 'type'],
        properties: {
          format: { type: 'string', minLength: 1 },
          type: { enum: ['hosted', 'proxy', 'group'] },
          upstream: { type: 'string' },
          members: { type: 'array', items: { type: 'string' }, minItems: 1 },
          routing: {
            type: 'object',
            propertyNames: { minLength: 1, maxLength: 512 },
            additionalProperties: { type: 'array', items: { type: 'string' }, minItems: 1 },
          },
          storage: { type: 'string' },
          upstreamAuth: {
            type: 'object',
            additionalProperties: false,
            properties: {
              username: { type: 'string', minLength: 1 },
              password: { type: 'string', minLength: 1 },
              passwordFile: { type: 'string', minLength: 1 },
              token: { type: 'string', minLength: 1 },
              tokenFile: { type: 'string', minLength: 1 },
            },
          },
          anonymousRead: { type: 'boolean' },
          port: { type: 'integer', minimum: 0, maximum: 65535 },
          maxUploadSize: size,
          cache: {
            type: 'object',
            additionalProperties: false,
            properties: {
              metadataTtl: seconds,
              contentTtl: seconds,
              negativeTtl: seconds,
              connectTimeout: timeout,
              upstreamTimeout: timeout,
              idleTimeout: timeout,
              allowedOrigins: { type: 'array', items: { type: 'string' } },
              allowPrivateAddresses: { type: 'boolean' },
              retries: { type: 'integer', minimum: 0, maximum: 10 },
              staleWhileRevalidate: seconds,
              honorCacheControl: { type: 'boolean' },
              circuitBreaker: {
                type: 'object',
                additionalProperties: false,
                properties: { failures: { type: 'integer', minimum: 1 }, openSeconds: seconds },
              },
            },
          },
        },
      },
    },
  },
} as const;
