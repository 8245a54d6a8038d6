export { API_VERSION } from './version.js';
export type { Permission, Principal, AuthenticatedUser, AuthProvider, AuthProviderDefinition, ProviderEnvironment } from './auth.js';
export {
  RegistryError,
  isRegistryError,
  BadRequestError,
  UnauthorizedError,
  ForbiddenError,
  NotFoundError,
  MethodNotAllowedError,
  ConflictError,
  PayloadTooLargeError,
  IntegrityError,
  UpstreamError,
  UpstreamTimeoutError,
  UpstreamRefusedError,
  isUpstreamRefusal,
  TooManyRequestsError,
  NotAcceptableError,
  GoneError,
  RangeNotSatisfiableError,
  RepositoryPolicyError,
  ServiceUnavailableError,
} from './errors.js';
export type { GroupPlan, LoadedDocument, MergeableDocument, MergeSources } from './group.js';
export { MEMBER_HEADER, loadDocument, serveDocument } from './group.js';
export type { RegistryErrorCode } from './errors.js';
export type { ChallengeRequest, DefaultUpstream, DefaultUpstreams, DownloadOf, ErrorInfo, FormatCommand, FormatCommandContext, FormatCommandOption, FormatDefinition, FormatTask, HostRootContext, HostRootRoute, RepositoryInfo, ServedFile } from './format.js';
export { basicChallenge, httpBaseUrl, plainTextErrorBody } from './format.js';
export type {
  AccessGrant,
  AccessToken,
  BodySpec,
  CachePolicy,
  HostRootAddress,
  FormatAuthService,
  TokenDescription,
  TokenOptions,
  FormatRequestContext,
  FormatResponse,
  HandlersByKind,
  HttpMethod,
  RouteHandler,
  ResponseBody,
  RouteDefinition,
  SpilledString,
  MultipartBody,
  PackageOwner,
  PackageOwners,
  UploadedFile,
} from './http.js';
export { assetResponse, byKind, jsonResponse, routeParam, runHandler, renderedResponse, isSpilledString, readSmallBody, SPILLED_STRING_BRAND } from './http.js';
export type { LogFields, Logger } from './logger.js';
export type { ContributionPoint, FormatCapability, JsonSchema, ManifestParseResult, PluginContributions, PluginManifest } from './manifest.js';
export { KERNEL_OWNED_KEYS, parseManifest } from './manifest.js';
export { archiveEntryProblem, isSafePathSegment, isSafeRelativePath } from './names.js';
export { checkDriverOptions, type DriverOptionsChecker } from './driver-options.js';
export type { Disposable, InjectionToken, PluginContainer, PluginContext, PluginInfo, PluginModule } from './plugin.js';
export type {
  Asset,
  AssetKind,
  AssetStore,
  CacheStatus,
  Component,
  ComponentIndex,
  DerivedCache,
  RenderedJson,
  ComponentSearchResult,
  DigestAlgorithm,
  Digests,
  KnownDigests,
  DocumentStore,
  DocumentUpdateOptions,
  ExpectedDigests,
  IncomingAsset,
  KeyValueStore,
  ProxyCache,
  PutAssetOptions,
  GroupRepositoryHandle,
  HostedRepositoryHandle,
  ProxyRepositoryHandle,
  RepositoryHandle,
  RepositoryServices,
  RepositoryType,
  StoredDocument,
  UpstreamFetch,
  UpstreamPassthrough,
  UpstreamPreparation,
  UpstreamResult,
  UpstreamServeResult,
  UploadSession,
  UploadSessions,
} from './repository.js';
export { DELETE_DOCUMENT } from './repository.js';
export type {
  ByteRange,
  PresignedGetOptions,
  StorageDriver,
  StorageDriverDefinition,
  StorageListPage,
  StorageObjectInfo,
  StoragePutOptions,
} from './storage.js';
export { Tokens } from './tokens.js';
export type { JsonMember, JsonMembersOptions } from './json-members.js';
export { jsonObjectMembers } from './json-members.js';
export type { YieldOptions, Yielder } from './yielding.js';
export { DEFAULT_YIELD_BUDGET_MS, forEachEntryYielding, forEachYielding, yielder, yieldToEventLoop } from './yielding.js';
export type { XmlElement } from './xml.js';
export { XmlError, child, childText, children, escapeXml, parseXml } from './xml.js';
export type { PackageDependency, PackageFile, PackageView, WebAppDefinition } from './web.js';
export { PACKAGE_VIEW_LIMITS, boundedPackageView } from './web.js';
export type { ClientSetting, ClientSettingsFile } from './client-settings.js';
