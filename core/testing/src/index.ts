export { describeStorageDriverConformance, INVALID_STORAGE_KEYS } from './storage-driver-conformance.js';
export type { StorageDriverConformanceOptions, StorageDriverFixture } from './storage-driver-conformance.js';
export {
  failingStream,
  generatedStream,
  hashStream,
  MemoryWatch,
  readAll,
  sha256Hex,
  slowStream,
  truncatedStream,
} from './streams.js';
