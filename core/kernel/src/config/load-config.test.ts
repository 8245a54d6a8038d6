import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandEnv } from './expand-env.js';
import { ConfigError, normalizeConfig } from './load-config.js';
import { parseSize } from './sizes.js';

const ctx = { configDir: '/etc/registry', env: {} as NodeJS.ProcessEnv };

function errorsOf(input: unknown): readonly string[] {
  try {
    normalizeConfig(input, ctx);
  } catch (error) {
    if (error instanceof ConfigError) return error.errors;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('normalizeConfig', () => {
  it('fills defaults and resolves paths against the config folder', () => {
    const config = normalizeConfig({ repositories: { local: { format: 'npm', type: 'hosted' } } }, ctx);
    expect(config.server).toMatchObject({ host: '127.0.0.1', port: 4000, trustProxy: false });
    expect(config.dataDir).toBe(path.resolve('/etc/registry/registry-data'));
    expect(config.storage['default']).toEqual({ driver: 'fs', path: path.resolve('/etc/registry/registry-data/blobs') });
    expect(config.metadata).toEqual({ type: 'sqlite', path: path.resolve('/etc/registry/registry-data/registry.sqlite'), migrate: true });
    expect(config.repositories['local']).toMatchObject({ storage: 'default', maxUploadBytes: 100 * 1024 * 1024, cache: { metadataTtl: 300, negativeTtl: 60 } });
    expect(config.auth).toMatchObject({ anonymousRead: true, allowRegistration: false });
  });

  it('reads auth.permissions, defaulting repositories to every one, and refuses oversized globs', () => {
    const config = normalizeConfig({ auth: { permissions: [{ packages: ['@a/*'], write: ['team-a'] }] } }, ctx);
    expect(config.auth.permissions).toEqual([{ repositories: ['*'], packages: ['@a/*'], write: ['team-a'] }]);
    expect(() => normalizeConfig({ auth: { permissions: [{ packages: ['*a*b*c*d*e*f*g*h*'], write: ['x'] }] } }, ctx)).toThrow(/auth\.permissions\[0\]\.packages\[0\]: at most 256 characters and 8 wildcards/);
    expect(() => normalizeConfig({ auth: { permissions: [{ write: 'everyone' }] } }, ctx)).toThrow(/auth\.permissions/);
  });

  it('keeps format-specific repository keys', () => {
    const config = normalizeConfig({ repositories: { local: { format: 'npm', type: 'hosted', allowUnpublish: false } } }, ctx);
    expect(config.repositories['local']?.['allowUnpublish']).toBe(false);
  });

  it('reports every problem with its path', () => {
    const errors = errorsOf({
      server: { port: 70000, extra: 1 },
      repositories: {
        up: { format: 'npm', type: 'proxy', upstream: 'ftp://example.test/' },
        g: { format: 'npm', type: 'group', members: ['up', 'missing', 'other'] },
        other: { format: 'pypi', type: 'hosted', members: ['x'] },
      },
    });
    expect(errors).toEqual(
      expect.arrayContaining([
        'server.extra: unknown key',
        expect.stringMatching(/^server\.port: /),
      ]),
    );
  });

  it('reports semantic errors together', () => {
    const errors = errorsOf({
      repositories: {
        up: { format: 'npm', type: 'proxy', upstream: 'ftp://example.test/' },
        g: { format: 'npm', type: 'group', members: ['up', 'missing', 'other'] },
        other: { format: 'pypi', type: 'hosted' },
        loop1: { format: 'npm', type: 'group', members: ['loop2'] },
        loop2: { format: 'npm', type: 'group', members: ['loop1'] },
      },
    });
    expect(errors).toEqual(
      expect.arrayContaining([
        'repositories.up.upstream: must be an http(s) URL',
        'repositories.g.members[1]: no repository named "missing"',
        'repositories.g.members[2]: "other" is format pypi, the group is npm',
        'repositories.loop1.members: groups form a cycle',
      ]),
    );
  });

  it('checks a group\'s routing claims name its own members', () => {
    const errors = errorsOf({
      repositories: {
        local: { format: 'npm', type: 'hosted', routing: { 'a*': ['local'] } },
        elsewhere: { format: 'npm', type: 'hosted' },
        g: { format: 'npm', type: 'group', members: ['local'], routing: { '@acme/*': ['local', 'elsewhere'] } },
      },
    });
    expect(errors).toEqual(
      expect.arrayContaining([
        'repositories.local.routing: only a group repository routes names to members',
        'repositories.g.routing["@acme/*"][1]: "elsewhere" is not a member of g',
      ]),
    );
    expect(errorsOf({ repositories: { local: { format: 'npm', type: 'hosted' }, g: { format: 'npm', type: 'group', members: ['local'], routing: { bad: [] } } } })).toEqual([
      'repositories.g.routing.bad: must NOT have fewer than 1 items',
    ]);
    const ok = normalizeConfig({ repositories: { local: { format: 'npm', type: 'hosted' }, g: { format: 'npm', type: 'group', members: ['local'], routing: { '@acme/*': ['local'] } } } }, ctx);
    expect(ok.repositories['g']?.routing).toEqual({ '@acme/*': ['local'] });
  });

  it('reads upstreamAuth for proxies only, secrets from a value or a file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rc-auth-'));
    writeFileSync(path.join(dir, 'pw'), 's3cret\n');
    const up = 'http://127.0.0.1:9/';
    const ok = normalizeConfig(
      {
        repositories: {
          a: { format: 'npm', type: 'proxy', upstream: up, upstreamAuth: { username: 'me', passwordFile: 'pw' } },
          b: { format: 'npm', type: 'proxy', upstream: up, upstreamAuth: { token: 'abc' } },
        },
      },
      { ...ctx, configDir: dir },
    );
    expect(ok.repositories['a']?.upstreamAuth).toEqual({ username: 'me', password: 's3cret' });
    expect(ok.repositories['b']?.upstreamAuth).toEqual({ token: 'abc' });
    const errors = errorsOf({
      repositories: {
        h: { format: 'npm', type: 'hosted', upstreamAuth: { token: 'abc' } },
        both: { format: 'npm', type: 'proxy', upstream: up, upstreamAuth: { username: 'me', password: 'x', token: 'y' } },
        nouser: { format: 'npm', type: 'proxy', upstream: up, upstreamAuth: { password: 'x' } },
        missing: { format: 'npm', type: 'proxy', upstream: up, upstreamAuth: { tokenFile: '/nonexistent/token' } },
      },
    });
    expect(errors).toEqual(
      expect.arrayContaining([
        'repositories.h.upstreamAuth: only a proxy repository has an upstream to sign in to',
        'repositories.both.upstreamAuth: give exactly one of password, passwordFile (with username), token or tokenFile',
        'repositories.nouser.upstreamAuth.username: required with a password',
        'repositories.missing.upstreamAuth.tokenFile: cannot read /nonexistent/token (ENOENT)',
      ]),
    );
    expect(errors.join('\n')).not.toContain('s3cret');
  });

  it('fills upstream timeouts and egress defaults, and converts seconds', () => {
    const up = 'http://127.0.0.1:9/';
    const plain = normalizeConfig({ repositories: { p: { format: 'npm', type: 'proxy', upstream: up } } }, ctx);
    expect(plain.repositories['p']?.cache).toMatchObject({ connectTimeoutMs: 10_000, upstreamTimeoutMs: 30_000, idleTimeoutMs: 60_000, allowPrivateAddresses: false });
    expect(plain.repositories['p']?.cache.allowedOrigins).toBeUndefined();
    const set = normalizeConfig(
      {
        repositories: {
          p: {
            format: 'npm',
            type: 'proxy',
            upstream: up,
            cache: { connectTimeout: 2, upstreamTimeout: 5, idleTimeout: 0.5, allowedOrigins: ['https://cdn.example.org', 'http://10.0.0.1:8080/'], allowPrivateAddresses: true },
          },
        },
      },
      ctx,
    );
    expect(set.repositories['p']?.cache).toMatchObject({
      connectTimeoutMs: 2000,
      upstreamTimeoutMs: 5000,
      idleTimeoutMs: 500,
      allowedOrigins: ['https://cdn.example.org', 'http://10.0.0.1:8080/'],
      allowPrivateAddresses: true,
    });
  });

  it('refuses allowed origins that are not origins, and timeouts of zero', () => {
    const errors = errorsOf({
      repositories: {
        p: {
          format: 'npm',
          type: 'proxy',
          upstream: 'http://127.0.0.1:9/',
          cache: { allowedOrigins: ['https://cdn.example.org/path', 'ftp://files.example.org', 'cdn.example.org', 'https://user:pw@cdn.example.org', 'https://ok.example.org:8443', 'https://cdn.example.org?x=1'] },
        },
        q: { format: 'npm', type: 'proxy', upstream: 'http://127.0.0.1:9/', cache: { idleTimeout: 0, allowedOrigins: 'https://cdn.example.org' } },
      },
    });
    expect(errors).toEqual(expect.arrayContaining([expect.stringMatching(/^repositories\.q\.cache\.idleTimeout: /), expect.stringMatching(/^repositories\.q\.cache\.allowedOrigins: /)]));
    const semantic = errorsOf({
      repositories: {
        p: {
          format: 'npm',
          type: 'proxy',
          upstream: 'http://127.0.0.1:9/',
          cache: { allowedOrigins: ['https://cdn.example.org/path', 'ftp://files.example.org', 'cdn.example.org', 'https://user:pw@cdn.example.org', 'https://ok.example.org:8443', 'https://cdn.example.org?x=1'] },
        },
      },
    });
    expect(errorsOf({ repositories: { u: { format: 'npm', type: 'proxy', upstream: 'https://user:secret@nexus.example/npm/' } } })).toEqual([
      expect.stringMatching(/^repositories\.u\.upstream: must not carry credentials/),
    ]);
    expect(semantic.filter((e) => e.startsWith('repositories.p.cache.allowedOrigins['))).toEqual(
      [0, 1, 2, 3, 5].map((i) => expect.stringMatching(new RegExp(`^repositories\\.p\\.cache\\.allowedOrigins\\[${i}\\]: must be an origin`))),
    );
  });

  it('reads storage redirects for the host and keeps them from the driver options', () => {
    const config = normalizeConfig(
      {
        storage: {
          off: { driver: 's3', bucket: 'b', redirect: false },
          on: { driver: 's3', bucket: 'b', redirect: true },
          tuned: { driver: 'azure', container: 'c', redirect: { minSize: '10mb', expires: 120 } },
        },
      },
      ctx,
    );
    expect(config.storage['off']).toEqual({ driver: 's3', bucket: 'b' });
    expect(config.storage['on']).toEqual({ driver: 's3', bucket: 'b', redirect: { minBytes: 1024 * 1024, expiresSeconds: 300 } });
    expect(config.storage['tuned']!.redirect).toEqual({ minBytes: 10 * 1024 * 1024, expiresSeconds: 120 });
    expect(errorsOf({ storage: { x: { driver: 's3', redirect: 'yes' } } })).toContain('storage.x.redirect: must be true, false, or { minSize, expires }');
    expect(errorsOf({ storage: { x: { driver: 's3', redirect: { minSize: 'big', expires: 5, ttl: 1 } } } })).toEqual(
      expect.arrayContaining(['storage.x.redirect.ttl: unknown key (minSize, expires)', 'storage.x.redirect.minSize: must be a size such as 1mb', 'storage.x.redirect.expires: must be whole seconds from 10 to 86400']),
    );
  });

  it('parses sizes', () => {
    expect(parseSize('100mb')).toBe(100 * 1024 * 1024);
    expect(parseSize('1.5 GB')).toBe(1.5 * 1024 ** 3);
    expect(parseSize(2048)).toBe(2048);
    expect(parseSize('lots')).toBeUndefined();
    const config = normalizeConfig({ limits: { maxUploadSize: '10mb' }, repositories: { a: { format: 'x', type: 'hosted', maxUploadSize: '1kb' } } }, ctx);
    expect(config.limits.maxUploadBytes).toBe(10 * 1024 * 1024);
    expect(config.repositories['a']?.maxUploadBytes).toBe(1024);
  });
});

describe('expandEnv', () => {
  it('expands ${VAR} and ${VAR:-default} in nested strings', () => {
    const errors: string[] = [];
    const out = expandEnv({ a: '${HOST}:${PORT:-4000}', list: ['${HOST}'], n: 3 }, { HOST: 'h' }, '', errors);
    expect(out).toEqual({ a: 'h:4000', list: ['h'], n: 3 });
    expect(errors).toEqual([]);
  });

  it('names an unset variable and its key', () => {
    const errors: string[] = [];
    expandEnv({ metadata: { url: '${DATABASE_URL}' } }, {}, '', errors);
    expect(errors).toEqual(['metadata.url: environment variable DATABASE_URL is not set and has no default']);
  });
});

describe('defaults come from the schema', () => {
  it('applies every default the schema declares, nested ones included', () => {
    const config = normalizeConfig({ repositories: { p: { format: 'npm', type: 'proxy', upstream: 'http://127.0.0.1:9/' } } }, ctx);
    expect(config.repositories['p']?.cache).toEqual({
      metadataTtl: 300,
      negativeTtl: 60,
      connectTimeoutMs: 10_000,
      upstreamTimeoutMs: 30_000,
      idleTimeoutMs: 60_000,
      transferTimeoutMs: 300_000,
      minTransferRate: 16 * 1024,
      allowPrivateAddresses: false,
      retries: 2,
      maxUpstreamConnections: 64,
      staleWhileRevalidate: 0,
      honorCacheControl: false,
      breakerThreshold: 5,
      breakerOpenMs: 30_000,
    });
    expect(config.server).toEqual({ host: '127.0.0.1', port: 4000, trustProxy: false, shutdownTimeoutSeconds: 10, workers: 1, directReplies: true, releaseMemoryWhenIdle: true, heapGrowthPercent: 50, youngGenerationBytes: 8 * 1024 * 1024, memoryCacheBytes: 32 * 1024 * 1024, derivedCacheBytes: 16 * 1024 * 1024, derivedDiskBytes: 256 * 1024 * 1024, metadataMemoryBytes: 512 * 1024 * 1024, metadataMemoryWaitMs: 10_000, minBodyRate: 1024, minBodyRateWindowSeconds: 30, maxConnectionsPerClient: 256, maxUpstreamConnections: 256 });
    expect(config.auth).toEqual({ anonymousRead: true, allowRegistration: false, tokenTtlSeconds: 0, cacheSeconds: 5, users: {}, providers: [{ id: 'builtin' }], permissions: [] });
    expect(config.limits).toEqual({ maxUploadBytes: 100 * 1024 * 1024, maxSearchResults: 250 });
    expect(config.cleanup).toEqual({ intervalHours: 24, unusedDays: 90, uploadExpiryHours: 24, tmpFileGraceSeconds: 3600, maxCacheBytes: {} });
    expect(config.logging).toEqual({ level: 'info', format: 'auto', access: true });
    expect(config.plugins).toEqual([]);
  });

  it('keeps values given, fills the circuit breaker\'s other key, and gives each config its own default objects', () => {
    const a = normalizeConfig({ repositories: { p: { format: 'npm', type: 'hosted', cache: { circuitBreaker: { failures: 2 } } } }, auth: { users: { u: { passwordHash: 'h' } } } }, ctx);
    expect(a.repositories['p']?.cache).toMatchObject({ breakerThreshold: 2, breakerOpenMs: 30_000 });
    expect(a.auth.users['u']).toEqual({ passwordHash: 'h', roles: [] });
    const b = normalizeConfig({}, ctx);
    (a.auth.providers as { id: string }[]).push({ id: 'extra' });
    expect(b.auth.providers).toEqual([{ id: 'builtin' }]);
    expect(normalizeConfig({ metadata: { type: 'postgres', url: 'postgres://x/y' } }, ctx).metadata).toMatchObject({ type: 'postgres', migrate: true });
  });
});

describe('kernel-owned keys', () => {
  it('are the keys the schema gives a repository, a storage block and a provider entry', async () => {
    const { KERNEL_OWNED_KEYS } = await import('@registry-core/api');
    const { configSchema } = await import('./schema.js');
    const p = configSchema.properties;
    expect(Object.keys(p.repositories.additionalProperties.properties).sort()).toEqual([...KERNEL_OWNED_KEYS.formats].sort());
    expect(Object.keys(p.storage.additionalProperties.properties).sort()).toEqual([...KERNEL_OWNED_KEYS.storageDrivers].sort());
    expect(Object.keys(p.auth.properties.providers.items.properties)).toEqual([...KERNEL_OWNED_KEYS.authProviders]);
  });
});
