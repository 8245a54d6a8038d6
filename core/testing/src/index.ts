export { describeStorageDriverConformance, INVALID_STORAGE_KEYS } from './storage-driver-conformance.js';
export type { StorageDriverConformanceOptions, StorageDriverFixture } from './storage-driver-conformance.js';
export {
  failingStream,
  generatedStream,
  hashStream,
  garbageCollector,
  MemoryWatch,
  pseudoRandomBytes,
  readAll,
  sha256Hex,
  slowStream,
  truncatedStream,
} from './streams.js';
export { startPostgres, type TestPostgres } from './postgres.js';
export { startS3rver, type TestS3 } from './s3rver.js';
export { OBJECT_PERMISSIONS, serviceAccountToken, startGcsJsonApiServer, type GcsServiceAccount, type TestGcs } from './gcs-json-api-server.js';
export { freePort } from './ports.js';
export { storedZip, ustarArchive } from './archives.js';
export { describeMetadataStoreConformance } from './metadata-store-conformance.js';
export type {
  ConformanceMetadataStore,
  MetadataAssetRow,
  MetadataAuditEventRow,
  MetadataComponentRow,
  MetadataDocumentRow,
  MetadataStoreConformanceFixture,
  MetadataStoreConformanceOptions,
} from './metadata-store-conformance.js';
export { MemoryStorageDriver, MemoryStorageError, memoryStorageDriverDefinition, memoryStore } from './memory-storage-driver.js';
export type { MemoryStorageEntry, MemoryStorageErrorCode } from './memory-storage-driver.js';
export { createTestHost, rawHttpRequest } from './test-host.js';
export type { RawResponse, StoredState, TestHost, TestHostOptions, TestHostPlugin, TestUser } from './test-host.js';
export { describeFormatConformance, fetchPackageView } from './format-conformance.js';
export type {
  ArtifactAnswer,
  ConformanceAnswer,
  ConformancePackage,
  ConformanceTarget,
  FormatConformanceAdapter,
  FormatConformanceOptions,
  HostileRequest,
  PackageViewAnswer,
  VersionsAnswer,
} from './format-conformance.js';
export { startUpstreamRelay, type UpstreamRelay } from './upstream-relay.js';
export { describeCrashPoints, type CrashPointAdapter, type CrashPackage, type CrashPublishResult, type CrashTarget } from './crash-points.js';
