import type { PluginContext } from '@registry-core/api';
import { gcsStorageDriverDefinition } from './gcs-storage-driver-definition.js';

export { GcsStorageDriver, GcsStorageError, MAX_SIGNED_URL_SECONDS, REQUIRED_PERMISSIONS } from './gcs-storage-driver.js';
export type { GcsDriverOptions, GcsStorageErrorCode } from './gcs-storage-driver.js';
export { gcsStorageDriverDefinition, GCS_STORAGE_DRIVER_ID, parseOptions, createDriver, explainStartError, startDriver } from './gcs-storage-driver-definition.js';
export type { GcsConfig, GcsCredentials } from './gcs-storage-driver-definition.js';

/** Plugin entry: registers the `gcs` storage driver declared in package.json. */
export function activate(context: PluginContext): void {
  context.subscriptions.push(context.registerStorageDriver(gcsStorageDriverDefinition));
}
