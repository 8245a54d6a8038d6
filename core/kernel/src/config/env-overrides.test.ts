import { mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyEnvOverrides, parseEnvValue } from './env-overrides.js';
import { ConfigError, loadConfig } from './load-config.js';

function folderWith(config?: string, name = 'registry-core.config.yaml'): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'rc-env-config-'));
  if (config !== undefined) writeFileSync(path.join(dir, name), config);
  return dir;
}

const FILE = `
server: { port: 4100, host: 127.0.0.1 }
auth: { anonymousRead: true }
repositories:
  npm-local: { format: npm, type: hosted }
  npm-proxy: { format: npm, type: proxy, upstream: "http://127.0.0.1:9/" }
`;

async function errorsOf(load: Promise<unknown>): Promise<string> {
  try {
    await load;
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration from the environment', () => {
  it('parses values as JSON when they parse, else keeps the string', () => {
    expect(parseEnvValue('4000')).toBe(4000);
    expect(parseEnvValue('false')).toBe(false);
    expect(parseEnvValue('["a","b"]')).toEqual(['a', 'b']);
    expect(parseEnvValue('{"a":1}')).toEqual({ a: 1 });
    expect(parseEnvValue('0755')).toBe('0755');
    expect(parseEnvValue('postgres://u:p@db/registry')).toBe('postgres://u:p@db/registry');
    expect(parseEnvValue('')).toBe('');
  });

  it('maps REGISTRY_CORE_<PATH> to keys: "__" between keys, "_" a word break matched to the key in the file or the schema', () => {
    const errors: string[] = [];
    const { config, applied } = applyEnvOverrides(
      { repositories: { 'npm-proxy': { format: 'npm', type: 'proxy' } } },
      {
        REGISTRY_CORE_SERVER__MEMORY_CACHE_SIZE: '8mb',
        REGISTRY_CORE_REPOSITORIES__NPM_PROXY__UPSTREAM: 'http://mirror.internal/npm/',
        REGISTRY_CORE_AUTH__ANONYMOUS_READ: 'false',
        REGISTRY_CORE_LOGGING: '{"level":"debug"}',
        REGISTRY_CORE_LOGGING__FORMAT: 'json',
        REGISTRY_CORE_TOKEN: 'not a config key',
        REGISTRY_CORE_DATA_DIR: '/srv/registry',
        REGISTRY_CORE_CONFIG: '/etc/registry-core.yaml',
        // The crash-point harness's switch (test/crash), set on servers a test kills.
        REGISTRY_CORE_CRASH_AT: 'document.written#1',
        REGISTRY_CORE_CRASH_TRACE: '/tmp/trace',
        // Any single word that names no top-level key: another tool's, or a switch to come.
        REGISTRY_CORE_SOME_SWITCH: '1',
      },
      errors,
    );
    expect(errors).toEqual([]);
    expect(config).toEqual({
      server: { memoryCacheSize: '8mb' },
      repositories: { 'npm-proxy': { format: 'npm', type: 'proxy', upstream: 'http://mirror.internal/npm/' } },
      auth: { anonymousRead: false },
      logging: { level: 'debug', format: 'json' },
    });
    expect(applied.map((a) => a.variable).sort()).toEqual(['REGISTRY_CORE_AUTH__ANONYMOUS_READ', 'REGISTRY_CORE_LOGGING', 'REGISTRY_CORE_LOGGING__FORMAT', 'REGISTRY_CORE_REPOSITORIES__NPM_PROXY__UPSTREAM', 'REGISTRY_CORE_SERVER__MEMORY_CACHE_SIZE']);
  });

  it('refuses a longer path whose first key is no top-level key (a typo), naming the variable and not the value', () => {
    const errors: string[] = [];
    applyEnvOverrides({}, { REGISTRY_CORE_SERVR__PORT: '8080', REGISTRY_CORE_METADATA__URL: 'postgres://u:secret@db/x' }, errors);
    expect(errors).toEqual([expect.stringMatching(/^REGISTRY_CORE_SERVR__PORT: SERVR is not a top-level config key \(server, dataDir, /)]);
    expect(errors.join()).not.toContain('8080');
  });

  it('precedence: flags, then the environment, then the file, then the defaults', async () => {
    const dir = folderWith(FILE);
    const fileOnly = await loadConfig({ cwd: dir, env: {} });
    expect(fileOnly.config.server).toMatchObject({ port: 4100, host: '127.0.0.1' });
    expect(fileOnly.config.server.shutdownTimeoutSeconds).toBeGreaterThan(0); // a default
    const env = { PORT: '5000', HOST: '0.0.0.0' };
    expect((await loadConfig({ cwd: dir, env })).config.server).toMatchObject({ port: 5000, host: '0.0.0.0' });
    // REGISTRY_CORE_SERVER__PORT is more specific than PORT
    expect((await loadConfig({ cwd: dir, env: { ...env, REGISTRY_CORE_SERVER__PORT: '5001' } })).config.server.port).toBe(5001);
    expect((await loadConfig({ cwd: dir, env, overrides: { port: 6000, host: '127.0.0.2' } })).config.server).toMatchObject({ port: 6000, host: '127.0.0.2' });
    // ${VAR} in the file is expanded first; the override replaces the expanded value
    const expanded = folderWith(`${FILE}metadata: { type: postgres, url: "\${DATABASE_URL}" }\n`);
    const both = await loadConfig({ cwd: expanded, env: { DATABASE_URL: 'postgres://file@db/a', REGISTRY_CORE_METADATA__URL: 'postgres://env@db/b' } });
    expect(both.config.metadata).toMatchObject({ type: 'postgres', url: 'postgres://env@db/b' });
    expect((await loadConfig({ cwd: dir, env: { REGISTRY_CORE_REPOSITORIES__NPM_PROXY__UPSTREAM: 'http://127.0.0.1:10/' } })).config.repositories['npm-proxy']).toMatchObject({ upstream: 'http://127.0.0.1:10/' });
  });

  it('server.workers: 1 by default, a number or `auto` (the cores) from the file or the environment; the slot variable of a worker is no config path', async () => {
    const dir = folderWith(FILE);
    expect((await loadConfig({ cwd: dir, env: {} })).config.server.workers).toBe(1);
    expect((await loadConfig({ cwd: dir, env: { REGISTRY_CORE_SERVER__WORKERS: '3', REGISTRY_CORE_WORKER_SLOT: '2' } })).config.server.workers).toBe(3);
    expect((await loadConfig({ cwd: dir, env: { REGISTRY_CORE_SERVER__WORKERS: 'auto' } })).config.server.workers).toBe(availableParallelism());
    expect(await errorsOf(loadConfig({ cwd: dir, env: { REGISTRY_CORE_SERVER__WORKERS: '0' } }))).toContain('server.workers');
  });

  it('REGISTRY_CORE_CONFIG names the config file when --config does not; REGISTRY_CORE_DATA_DIR pins the data folder', async () => {
    const elsewhere = folderWith(FILE, 'registry.yaml');
    const cwd = folderWith();
    const loaded = await loadConfig({ cwd, env: { REGISTRY_CORE_CONFIG: path.join(elsewhere, 'registry.yaml'), REGISTRY_CORE_DATA_DIR: 'data' } });
    expect(loaded.filepath).toBe(path.join(elsewhere, 'registry.yaml'));
    expect(loaded.config.server.port).toBe(4100);
    expect(loaded.config.dataDir).toBe(path.join(cwd, 'data'));
    expect(loaded.dataDirFrom).toBe('env');
    const other = folderWith('server: { port: 4200 }\n');
    expect((await loadConfig({ cwd, file: path.join(other, 'registry-core.config.yaml'), env: { REGISTRY_CORE_CONFIG: path.join(elsewhere, 'registry.yaml') } })).config.server.port).toBe(4200);
    expect(await errorsOf(loadConfig({ cwd, env: { REGISTRY_CORE_CONFIG: path.join(cwd, 'missing.yaml') } }))).toContain('config file not found');
  });

  it('the zero-config default turns self-registration off when HOST makes it listen beyond loopback', async () => {
    const cwd = folderWith();
    expect((await loadConfig({ cwd, env: {} })).config.auth.allowRegistration).toBe(true);
    expect((await loadConfig({ cwd, env: { HOST: '0.0.0.0' } })).config.auth.allowRegistration).toBe(false);
    expect((await loadConfig({ cwd, env: { REGISTRY_CORE_SERVER__HOST: '0.0.0.0' } })).config.auth.allowRegistration).toBe(false);
    expect((await loadConfig({ cwd, env: { PORT: '8080' } })).config.server.port).toBe(8080);
  });

  it('names the variable and the key of a bad value, never the value (secrets come this way)', async () => {
    const dir = folderWith(FILE);
    const secret = 'hunter2-very-secret';
    const message = await errorsOf(loadConfig({ cwd: dir, env: { REGISTRY_CORE_SERVER__PORT: secret } }));
    expect(message).toContain('server.port');
    expect(message).toContain('REGISTRY_CORE_SERVER__PORT');
    expect(message).not.toContain(secret);
    const unknown = await errorsOf(loadConfig({ cwd: dir, env: { REGISTRY_CORE_SERVR__PORT: secret } }));
    expect(unknown).toContain('REGISTRY_CORE_SERVR__PORT: SERVR is not a top-level config key');
    expect(unknown).not.toContain(secret);
    const malformed = await errorsOf(loadConfig({ cwd: dir, env: { REGISTRY_CORE_SERVER___PORT: secret } }));
    expect(malformed).toContain('REGISTRY_CORE_SERVER___PORT: not a config path');
    expect(malformed).not.toContain(secret);
    const through = await errorsOf(loadConfig({ cwd: dir, env: { REGISTRY_CORE_SERVER__PORT__X: secret } }));
    expect(through).toContain('server.port (from REGISTRY_CORE_SERVER__PORT__X): holds a value, not keys');
    expect(through).not.toContain(secret);
  });
});
