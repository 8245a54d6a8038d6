import type { AuthProviderDefinition } from './auth.js';
import type { FormatDefinition } from './format.js';
import type { Logger } from './logger.js';
import type { StorageDriverDefinition } from './storage.js';
import type { WebAppDefinition } from './web.js';

/** Something that can be undone: a registration, a subscription. */
export interface Disposable {
  dispose(): void;
}

/** A DI token: a class, a string or a symbol (prefer `Symbol.for`). */
export type InjectionToken<T = unknown> = string | symbol | (new (...args: never[]) => T);

/**
 * The plugin's own dependency-injection container, a child of the host's (tsyringe).
 * Registrations made here are visible to this plugin only. Never use tsyringe's global
 * `container` or `@singleton()` in a plugin: they bypass the child container.
 */
export interface PluginContainer {
  register<T>(token: InjectionToken<T>, provider: { useValue: T } | { useFactory: (c: PluginContainer) => T }): unknown;
  resolve<T>(token: InjectionToken<T>): T;
  isRegistered<T>(token: InjectionToken<T>, recursive?: boolean): boolean;
}

/** Facts about the plugin being activated. */
export interface PluginInfo {
  /** Package name, or the folder name for a plugin loaded by path. */
  readonly name: string;
  readonly version: string;
  /** Absolute folder of the plugin package. */
  readonly directory: string;
}

/** What the host hands to `activate`. */
export interface PluginContext {
  readonly plugin: PluginInfo;
  /** The API version the host provides. */
  readonly apiVersion: string;
  readonly logger: Logger;
  readonly container: PluginContainer;
  /** Options given to this plugin in the config (`plugins: [{ name, options }]`), or `{}`. */
  readonly options: Readonly<Record<string, unknown>>;
  /** Register a format declared in the manifest's `contributes.formats`. */
  registerFormat(format: FormatDefinition): Disposable;
  /** Register a storage driver declared in `contributes.storageDrivers`. */
  registerStorageDriver(driver: StorageDriverDefinition): Disposable;
  /** Register an auth provider declared in `contributes.authProviders`. */
  registerAuthProvider(provider: AuthProviderDefinition): Disposable;
  /** Register a web app declared in `contributes.webApps` (see {@link WebAppDefinition}). */
  registerWebApp(app: WebAppDefinition): Disposable;
  /** Disposed by the host when the plugin is deactivated, in reverse order. */
  readonly subscriptions: Disposable[];
}

/** What a plugin's entry module exports. */
export interface PluginModule {
  activate(context: PluginContext): void | Promise<void>;
  deactivate?(): void | Promise<void>;
}
