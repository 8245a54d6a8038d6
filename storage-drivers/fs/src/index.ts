import type { PluginContext } from '@registry-core/api';
import { fsStorageDriverDefinition } from './fs-storage-driver-definition.js';

export { FsStorageDriver, DEFAULT_LIST_LIMIT, DEFAULT_TEMP_MAX_AGE_MS } from './fs-storage-driver.js';
export { fsStorageDriverDefinition, FS_STORAGE_DRIVER_ID } from './fs-storage-driver-definition.js';
export { FsStorageError } from './storage-error.js';
export type { FsStorageErrorCode } from './storage-error.js';

/** Plugin entry: registers the `fs` storage driver declared in package.json. */
export function activate(context: PluginContext): void {
  context.subscriptions.push(context.registerStorageDriver(fsStorageDriverDefinition));
}
