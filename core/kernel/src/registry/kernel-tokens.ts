import type { DependencyContainer } from 'tsyringe';
import type { AuthProvider } from '@registry-core/api';
import type { DownloadCounter } from '../analytics/download-counter.js';
import type { DownloadQueries } from '../analytics/download-queries.js';
import type { AccessTokens } from '../auth/access-tokens.js';
import type { AuditLog } from '../auth/audit-log.js';
import type { AuthService } from '../auth/auth-service.js';
import type { Authentication } from '../auth/authentication.js';
import type { Authorization } from '../auth/authorization.js';
import type { UserTokens } from '../auth/tokens.js';
import type { Users } from '../auth/users.js';
import type { LoadedConfig, RegistryConfig } from '../config/types.js';
import type { BlobStore } from '../engine/blob-store.js';
import type { ConnectionSlots } from '../engine/connection-slots.js';
import type { DerivedMemory } from '../engine/derived-cache.js';
import type { BlobMemoryCache } from '../engine/memory-cache.js';
import type { MetadataMemory } from '../engine/metadata-memory.js';
import type { LoopMarker } from '../engine/self-upstream.js';
import type { TtlOverrides } from '../engine/ttl-overrides.js';
import type { AdminApi } from '../http/admin-api.js';
import type { WebSessions } from '../http/web-session.js';
import type { Dispatcher, RepositoryRuntime } from '../http/dispatcher.js';
import type { HotAnswers } from '../http/hot-answers.js';
import type { HttpHost } from '../http/server.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import type { PluginHost } from '../plugins/plugin-host.js';
import type { AdminService } from './admin-service.js';
import type { UnavailableRepository } from './repository-runtimes.js';
import type { Scheduler } from './scheduler.js';

/** A DI token of the kernel's own, carrying the type of what it resolves to. */
export type KernelToken<T> = symbol & { readonly __resolves?: T };

// Plain (not `Symbol.for`) symbols: the kernel's services are not part of the plugin
// contract, so a plugin's child container cannot name them.
const token = <T>(name: string): KernelToken<T> => Symbol(`registry-core.kernel.${name}`) as KernelToken<T>;

/**
 * The tokens under which the composition root (see builder.ts) registers the kernel's
 * services in a registry's root container. The plugin contract's own tokens (`Tokens` of
 * `@registry-core/api`) are registered there too, and in each plugin's child container.
 */
export const KernelTokens = {
  LoadedConfig: token<LoadedConfig>('LoadedConfig'),
  /** The effective config (zero-config repositories filled in). */
  Config: token<RegistryConfig>('Config'),
  PluginHost: token<PluginHost>('PluginHost'),
  MetadataStore: token<MetadataStore>('MetadataStore'),
  /** The configured blob stores that could be opened, by name. */
  BlobStores: token<ReadonlyMap<string, BlobStore>>('BlobStores'),
  AuthProviders: token<readonly AuthProvider[]>('AuthProviders'),
  Auth: token<AuthService>('Auth'),
  Authentication: token<Authentication>('Authentication'),
  Authorization: token<Authorization>('Authorization'),
  Users: token<Users>('Users'),
  UserTokens: token<UserTokens>('UserTokens'),
  AccessTokens: token<AccessTokens>('AccessTokens'),
  AuditLog: token<AuditLog>('AuditLog'),
  TtlOverrides: token<TtlOverrides>('TtlOverrides'),
  DerivedMemory: token<DerivedMemory>('DerivedMemory'),
  BlobMemory: token<BlobMemoryCache>('BlobMemory'),
  MetadataMemory: token<MetadataMemory>('MetadataMemory'),
  Repositories: token<ReadonlyMap<string, RepositoryRuntime>>('Repositories'),
  UnavailableRepositories: token<readonly UnavailableRepository[]>('UnavailableRepositories'),
  HotAnswers: token<HotAnswers>('HotAnswers'),
  /** Download counts held until the next flush (download analytics). */
  Downloads: token<DownloadCounter>('Downloads'),
  /** Reads of the download counts and stored files (stats API, `/-/stats`). */
  DownloadQueries: token<DownloadQueries>('DownloadQueries'),
  Dispatcher: token<Dispatcher>('Dispatcher'),
  AdminService: token<AdminService>('AdminService'),
  AdminApi: token<AdminApi>('AdminApi'),
  /** Sign-in of the web interface and the principal of its JSON APIs. */
  WebSessions: token<WebSessions>('WebSessions'),
  HttpHost: token<HttpHost>('HttpHost'),
  Scheduler: token<Scheduler>('Scheduler'),
  /** This registry's `Via` mark on upstream requests (loop detection). */
  LoopMarker: token<LoopMarker>('LoopMarker'),
  /** The registry-wide limit of open upstream connections (`server.maxUpstreamConnections`). */
  UpstreamSlots: token<ConnectionSlots>('UpstreamSlots'),
} as const;

/** `container.resolve` with the token's type. */
export function resolve<T>(container: DependencyContainer, key: KernelToken<T>): T {
  return container.resolve<T>(key);
}
