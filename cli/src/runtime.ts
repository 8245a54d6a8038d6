import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuthService, MetadataStore, Registry, StructuredLogger, loadConfig, type LoadedConfig } from '@registry-core/kernel';

/** The installed `registry-core` package: first-party plugins are looked up from here too. */
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const manifest = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string; dependencies?: Record<string, string> };
export const version = manifest.version;

/**
 * `registry-core --version`: this package's version, then each `@registry-core/*` package
 * it runs with, as installed (resolved from this package, as Node resolves them).
 */
export function versionReport(): string {
  const require = createRequire(path.join(packageRoot, 'package.json'));
  const lines = [`registry-core ${version}`];
  for (const name of Object.keys(manifest.dependencies ?? {}).filter((n) => n.startsWith('@registry-core/')).sort()) {
    let installed = 'not installed';
    try {
      installed = (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;
    } catch {
      // reported as not installed
    }
    lines.push(`${name} ${installed}`);
  }
  lines.push(`node ${process.version}`);
  return lines.join('\n');
}

/** The program's `--data-dir` (every command's), set before a command runs. */
let dataDirOption: string | undefined;

/** Pin the data folder for every command of this run (`--data-dir`). */
export function pinDataDir(dir: string | undefined): void {
  dataDirOption = dir;
}

/** The config of `--config` (or found from this folder), with `--port`, `--host` and `--data-dir` applied. */
export async function load(options: { config?: string; port?: number; host?: string }): Promise<LoadedConfig> {
  return loadConfig({ file: options.config, overrides: { port: options.port, host: options.host, dataDir: dataDirOption } });
}

/**
 * A registry built from a loaded config, not listening. `server`: the process serves it and
 * logs as configured; otherwise (a one-shot command whose output is for a person) only
 * warnings and errors are logged, as readable text, so no log line mixes into the output.
 */
export function createRegistry(loaded: LoadedConfig, options: { server?: boolean } = {}): Promise<Registry> {
  const { level, format } = loaded.config.logging;
  const logger = options.server ? undefined : StructuredLogger.create(level === 'debug' ? 'debug' : level === 'error' ? 'error' : 'warn', format === 'auto' ? 'pretty' : format);
  return Registry.create(loaded, { pluginSearchDirs: [packageRoot], ...(logger ? { logger } : {}) });
}


/** Open the metadata store of `--config` without starting plugins or HTTP. */
export async function withMetadata<T>(options: { config?: string }, work: (metadata: MetadataStore, config: LoadedConfig['config']) => Promise<T>): Promise<T> {
  const { config } = await load(options);
  const metadata = await MetadataStore.open(config.metadata);
  try {
    return await work(metadata, config);
  } finally {
    await metadata.close();
  }
}

/** Open the metadata store and auth service without starting plugins or HTTP. */
export function withAuth<T>(options: { config?: string }, work: (auth: AuthService) => Promise<T>): Promise<T> {
  return withMetadata(options, (metadata, config) => work(new AuthService(config.auth, metadata)));
}
