import 'reflect-metadata';
import { pathToFileURL } from 'node:url';
import semver from 'semver';
import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import {
  API_VERSION,
  Tokens,
  parseManifest,
  type AuthProviderDefinition,
  type Disposable,
  type FormatDefinition,
  type JsonSchema,
  type Logger,
  type PluginContainer,
  type PluginContext,
  type PluginManifest,
  type PluginModule,
  type StorageDriverDefinition,
  type WebAppDefinition,
} from '@registry-core/api';
import { ConfigError } from '../config/load-config.js';
import type { PluginEntry, RegistryConfig } from '../config/types.js';
import { checkPluginConfig, compileContributionSchemas, wholeConfigSchema, type ContributionValidators } from './plugin-config.js';
import { configSchema } from '../config/schema.js';
import { PluginNotFoundError, pluginEntryFile, resolvePlugin, type ResolvedPlugin } from './plugin-resolver.js';

export type PluginStatus = 'active' | 'inactive' | 'refused' | 'failed';

/** What the host knows about one declared plugin. */
export interface PluginRecord {
  readonly requested: string;
  name: string;
  version: string;
  directory?: string;
  status: PluginStatus;
  /** Why it was refused or failed; what made it inactive. */
  reason?: string;
  manifest?: PluginManifest;
  /** The compiled `configSchema`s of its contributions. */
  validators?: ContributionValidators;
  /** True when the host added it itself (zero-config, or a driver the config uses). */
  implicit: boolean;
  module?: PluginModule;
  context?: PluginContext;
  packageJson?: Record<string, unknown>;
  options?: Readonly<Record<string, unknown>>;
  /** Undoes what the plugin registered; run at deactivation whatever the plugin disposes itself. */
  unregister?: Array<() => void>;
}

/** Which contributions the config uses; a plugin is activated only if it provides one. */
export interface UsedContributions {
  readonly formats: ReadonlySet<string>;
  readonly storageDrivers: ReadonlySet<string>;
  readonly authProviders: ReadonlySet<string>;
  /** Activate every plugin that contributes a format (zero-config). */
  readonly allFormats?: boolean;
  /** Activate plugins that contribute a web app (the config's `web.enabled`). */
  readonly webApps?: boolean;
}

/**
 * The plugin host: reads every declared plugin's manifest before importing anything,
 * refuses incompatible ones with a message naming the plugin, the range it wants and the
 * version provided, activates only the plugins whose contributions the config uses, each
 * with a tsyringe child container, and collects what they register.
 */
export class PluginHost {
  readonly records: PluginRecord[] = [];
  readonly formats = new Map<string, { definition: FormatDefinition; plugin: PluginRecord }>();
  readonly storageDrivers = new Map<string, { definition: StorageDriverDefinition; plugin: PluginRecord }>();
  readonly authProviders = new Map<string, { definition: AuthProviderDefinition; plugin: PluginRecord }>();
  readonly webApps = new Map<string, { definition: WebAppDefinition; plugin: PluginRecord }>();

  constructor(
    private readonly logger: Logger,
    private readonly configDir: string,
    private readonly fallbackDirs: readonly string[],
    private readonly container: DependencyContainer = rootContainer,
  ) {}

  /** Read and check manifests of the declared plugins (no code is imported). */
  inspect(entries: readonly PluginEntry[], implicit = false): void {
    for (const entry of entries) {
      if (this.records.some((r) => r.requested === entry.name || r.name === entry.name)) continue;
      const record: PluginRecord = { requested: entry.name, name: entry.name, version: '', status: 'inactive', implicit };
      this.records.push(record);
      let resolved: ResolvedPlugin;
      try {
        resolved = resolvePlugin(entry.name, this.configDir, this.fallbackDirs);
      } catch (error) {
        this.refuse(record, error instanceof PluginNotFoundError ? error.message : `cannot read: ${(error as Error).message}`);
        continue;
      }
      record.name = resolved.name;
      record.version = resolved.version;
      record.directory = resolved.directory;
      record.packageJson = resolved.packageJson;
      const parsed = parseManifest(resolved.packageJson);
      if (!parsed.ok) {
        this.refuse(record, `invalid manifest: ${parsed.errors.join('; ')}`);
        continue;
      }
      record.manifest = parsed.manifest;
      const schemas = compileContributionSchemas(parsed.manifest);
      if (schemas.errors.length > 0) {
        this.refuse(record, `invalid manifest: ${schemas.errors.join('; ')}`);
        continue;
      }
      record.validators = schemas.validators;
      if (!semver.validRange(parsed.manifest.apiVersion)) {
        this.refuse(record, `registryCore.apiVersion "${parsed.manifest.apiVersion}" is not a semver range`);
        continue;
      }
      if (!semver.satisfies(API_VERSION, parsed.manifest.apiVersion, { includePrerelease: true })) {
        this.refuse(
          record,
          `plugin ${record.name} wants @registry-core/api ${parsed.manifest.apiVersion}, but this host provides ${API_VERSION}`,
        );
        continue;
      }
      record.options = entry.options;
    }
  }

  /** Contribution ids offered by plugins whose manifests were accepted. */
  offered(point: 'formats' | 'storageDrivers' | 'authProviders' | 'webApps'): Map<string, PluginRecord> {
    const map = new Map<string, PluginRecord>();
    for (const record of this.records) {
      if (record.status === 'refused' || !record.manifest) continue;
      for (const item of record.manifest.contributes[point] ?? []) if (!map.has(item.id)) map.set(item.id, record);
    }
    return map;
  }

  /**
   * Errors in the config's plugin-owned keys (repository keys of a format, a driver's
   * storage options, a provider's options), checked against the `configSchema` of the
   * plugin that offers each; every error names the key's path.
   */
  checkConfig(config: RegistryConfig): string[] {
    const offered = {
      formats: this.offered('formats'),
      storageDrivers: this.offered('storageDrivers'),
      authProviders: this.offered('authProviders'),
    };
    return checkPluginConfig(config, (point, id) => offered[point].get(id)?.validators?.get(`${point}:${id}`));
  }

  /** The whole config schema: the kernel's and the `configSchema`s of every plugin whose manifest was accepted. */
  configSchema(): JsonSchema {
    return wholeConfigSchema(configSchema, this.records.flatMap((r) => (r.status !== 'refused' && r.manifest ? [r.manifest] : [])));
  }

  /**
   * Activate the plugins providing what the config uses; the others stay inactive. With
   * the config, its plugin-owned keys are checked first ({@link checkConfig}): any error
   * is a ConfigError and no plugin is activated.
   */
  async activate(used: UsedContributions, config?: RegistryConfig): Promise<void> {
    if (config) {
      const errors = this.checkConfig(config);
      if (errors.length > 0) throw new ConfigError(errors);
    }
    for (const record of this.records) {
      if (record.status === 'refused' || !record.manifest || !record.directory) continue;
      const c = record.manifest.contributes;
      const needed =
        (c.formats ?? []).some((f) => used.allFormats || used.formats.has(f.id)) ||
        (c.storageDrivers ?? []).some((d) => used.storageDrivers.has(d.id)) ||
        (c.authProviders ?? []).some((a) => used.authProviders.has(a.id)) ||
        ((c.webApps ?? []).length > 0 && used.webApps === true);
      if (!needed) {
        record.reason = 'nothing it contributes is used by the config';
        continue;
      }
      await this.activateOne(record);
    }
  }

  private async activateOne(record: PluginRecord): Promise<void> {
    const manifest = record.manifest!;
    const log = this.logger.child({ plugin: record.name });
    let module: PluginModule;
    try {
      const file = pluginEntryFile(
        { requested: record.requested, name: record.name, version: record.version, directory: record.directory!, packageJson: record.packageJson ?? {} },
        manifest,
      );
      module = (await import(pathToFileURL(file).href)) as PluginModule;
    } catch (error) {
      this.fail(record, `cannot import: ${(error as Error).message}`);
      return;
    }
    if (typeof module.activate !== 'function') {
      this.fail(record, 'its module exports no activate() function');
      return;
    }
    const child = this.container.createChildContainer();
    const registered: Array<() => void> = [];
    const declared = (point: 'formats' | 'storageDrivers' | 'authProviders' | 'webApps', id: string) => {
      if (!(manifest.contributes[point] ?? []).some((x) => x.id === id)) {
        throw new Error(`plugin ${record.name} registered ${point} "${id}" that its manifest does not declare`);
      }
    };
    const register = <T>(map: Map<string, { definition: T; plugin: PluginRecord }>, point: 'formats' | 'storageDrivers' | 'authProviders' | 'webApps', id: string, definition: T): Disposable => {
      declared(point, id);
      if (map.has(id)) throw new Error(`${point} "${id}" is already registered by ${map.get(id)!.plugin.name}`);
      map.set(id, { definition, plugin: record });
      const dispose = () => map.get(id)?.plugin === record && map.delete(id);
      registered.push(dispose);
      return { dispose };
    };
    const context: PluginContext = {
      plugin: { name: record.name, version: record.version, directory: record.directory! },
      apiVersion: API_VERSION,
      logger: log,
      container: child as unknown as PluginContainer,
      options: record.options ?? {},
      subscriptions: [],
      registerFormat: (format) => {
        // The opt-in parts of the contract a format uses must be in its manifest.
        const capabilities = manifest.contributes.formats?.find((f) => f.id === format.id)?.capabilities ?? [];
        if (format.hostRoot && !capabilities.includes('hostRoot')) throw new Error(`format "${format.id}" is served at the host root but its manifest does not declare the "hostRoot" capability`);
        if ((format.tasks?.length ?? 0) > 0 && !capabilities.includes('tasks')) throw new Error(`format "${format.id}" has tasks but its manifest does not declare the "tasks" capability`);
        return register(this.formats, 'formats', format.id, format);
      },
      registerStorageDriver: (driver) => register(this.storageDrivers, 'storageDrivers', driver.id, driver),
      registerAuthProvider: (provider) => register(this.authProviders, 'authProviders', provider.id, provider),
      registerWebApp: (app) => register(this.webApps, 'webApps', app.id, app),
    };
    child.register(Tokens.PluginContext, { useValue: context });
    child.register(Tokens.Logger, { useValue: log });
    try {
      await module.activate(context);
    } catch (error) {
      for (const undo of registered) undo();
      this.fail(record, `activate() threw: ${(error as Error).message}`);
      return;
    }
    record.module = module;
    record.context = context;
    record.unregister = registered;
    record.status = 'active';
    record.reason = undefined;
    log.debug('plugin activated', { version: record.version });
  }

  /** Deactivate active plugins in reverse order. */
  async deactivateAll(): Promise<void> {
    for (const record of [...this.records].reverse()) {
      if (record.status !== 'active') continue;
      try {
        await record.module?.deactivate?.();
        for (const s of [...(record.context?.subscriptions ?? [])].reverse()) s.dispose();
        for (const undo of record.unregister ?? []) undo();
      } catch (error) {
        this.logger.warn('plugin deactivate failed', { plugin: record.name, error });
      }
      record.status = 'inactive';
      record.reason = 'deactivated';
    }
  }

  private refuse(record: PluginRecord, reason: string): void {
    record.status = 'refused';
    record.reason = reason;
    this.logger.error(`plugin refused: ${describe(record)}: ${reason}`, { plugin: record.name });
  }

  private fail(record: PluginRecord, reason: string): void {
    record.status = 'failed';
    record.reason = reason;
    this.logger.error(`plugin failed: ${describe(record)}: ${reason}`, { plugin: record.name });
  }
}

/** The package name, and the path or name the config used when it differs. */
export function describe(record: PluginRecord): string {
  return record.name === record.requested ? record.name : `${record.name} (${record.requested})`;
}
