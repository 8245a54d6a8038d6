import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuthService, MetadataStore, Registry, loadConfig, type LoadedConfig } from '@registry-core/kernel';

/** The installed `registry-core` package: first-party plugins are looked up from here too. */
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const version = (JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;

/** The config of `--config` (or found from this folder), with `--port` and `--host` applied. */
export async function load(options: { config?: string; port?: number; host?: string }): Promise<LoadedConfig> {
  return loadConfig({ file: options.config, overrides: { port: options.port, host: options.host } });
}

/** A registry built from a loaded config, not listening. */
export function createRegistry(loaded: LoadedConfig): Promise<Registry> {
  return Registry.create(loaded, { pluginSearchDirs: [packageRoot] });
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
