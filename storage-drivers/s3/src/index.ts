import type { PluginContext } from '@registry-core/api';
import { s3StorageDriverDefinition } from './s3-storage-driver-definition.js';

export { S3StorageDriver, S3StorageError, MAX_COPY_OBJECT_BYTES, MAX_PRESIGNED_URL_SECONDS } from './s3-storage-driver.js';
export type { S3DriverOptions, S3StorageErrorCode } from './s3-storage-driver.js';
export { s3StorageDriverDefinition, S3_STORAGE_DRIVER_ID, parseOptions, createDriver, explainBucketError } from './s3-storage-driver-definition.js';
export type { S3Config } from './s3-storage-driver-definition.js';

/** Plugin entry: registers the `s3` storage driver declared in package.json. */
export function activate(context: PluginContext): void {
  context.subscriptions.push(context.registerStorageDriver(s3StorageDriverDefinition));
}
