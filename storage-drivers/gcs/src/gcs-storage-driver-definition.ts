import { IdempotencyStrategy, Storage, type StorageOptions } from '@google-cloud/storage';
import { checkDriverOptions, type ProviderEnvironment, type StorageDriverDefinition } from '@registry-core/api';
import { CHUNK_MULTIPLE, GcsStorageDriver, MAX_SIGNED_URL_SECONDS, reasonOf, statusOf } from './gcs-storage-driver.js';

/** Id of this driver in the config (`storage.<name>.driver: gcs`). */
export const GCS_STORAGE_DRIVER_ID = 'gcs';

const MiB = 1024 * 1024;

/** A service-account key (the JSON of a key file), as given inline. */
export interface GcsCredentials {
  readonly client_email: string;
  readonly private_key: string;
  readonly [field: string]: unknown;
}

/** The driver's config block, checked. */
export interface GcsConfig {
  readonly bucket: string;
  readonly prefix: string;
  readonly projectId?: string;
  readonly keyFilename?: string;
  readonly credentials?: GcsCredentials;
  readonly apiEndpoint?: string;
  /** Where IAM signBlob is asked when the credentials hold no key (default: Google's IAM Credentials API). */
  readonly signingEndpoint?: string;
  readonly anonymous: boolean;
  readonly selfSignedJwt: boolean;
  readonly chunkSize: number;
  readonly resumableThreshold: number;
  readonly signedUrlTtl: number;
}

const KNOWN = ['bucket', 'prefix', 'projectId', 'keyFilename', 'credentials', 'apiEndpoint', 'signingEndpoint', 'anonymous', 'selfSignedJwt', 'chunkSize', 'resumableThreshold', 'signedUrlTtl'];

/** Bucket names: 3-63 characters (222 with dots), lower-case letters, digits, `-`, `_`, `.`. */
const BUCKET_NAME = /^(?=.{3,222}$)[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$/;

/** Check the driver's config block; every problem is named with its key. */
export function parseOptions(options: Readonly<Record<string, unknown>>): GcsConfig {
  const check = checkDriverOptions(GCS_STORAGE_DRIVER_ID, options, KNOWN);
  const { problems, string, integer, boolean } = check;

  const bucket = string('bucket');
  if (options['bucket'] === undefined) problems.push('"bucket" is required');
  else if (bucket !== undefined && (!BUCKET_NAME.test(bucket) || bucket.split('.').some((part) => part.length > 63) || bucket.startsWith('goog'))) {
    problems.push('"bucket" must be a GCS bucket name (3-63 lower-case letters, digits, "-", "_", "." ; no "/")');
  }
  const prefix = check.prefix();
  const projectId = string('projectId');
  const keyFilename = string('keyFilename');
  let credentials: GcsCredentials | undefined;
  const rawCredentials = options['credentials'];
  if (rawCredentials !== undefined) {
    let value: unknown = rawCredentials;
    if (typeof value === 'string') {
      try {
        value = JSON.parse(value);
      } catch {
        value = undefined;
      }
    }
    const record = value as Record<string, unknown> | undefined;
    if (record === null || typeof record !== 'object' || typeof record['client_email'] !== 'string' || typeof record['private_key'] !== 'string') {
      problems.push('"credentials" must be a service-account key (an object, or its JSON text, with "client_email" and "private_key")');
    } else {
      credentials = record as GcsCredentials;
    }
  }
  if (keyFilename !== undefined && rawCredentials !== undefined) problems.push('give "keyFilename" or "credentials", not both');
  const apiEndpoint = check.url('apiEndpoint', 'https://storage.googleapis.com');
  let signingEndpoint = check.url('signingEndpoint', 'https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/');
  if (signingEndpoint !== undefined && !signingEndpoint.endsWith('/')) signingEndpoint = `${signingEndpoint}/`;
  const anonymous = boolean('anonymous', false) === true;
  if (anonymous && (keyFilename !== undefined || rawCredentials !== undefined)) problems.push('"anonymous" sends no credentials: drop "keyFilename" and "credentials"');
  if (anonymous && apiEndpoint === undefined) problems.push('"anonymous" is for an emulator at "apiEndpoint" (GCS itself refuses anonymous writes)');
  const selfSignedJwt = boolean('selfSignedJwt', false) === true;
  if (selfSignedJwt && keyFilename === undefined && rawCredentials === undefined) problems.push('"selfSignedJwt" needs a service-account key ("keyFilename" or "credentials")');
  const chunkSize = integer('chunkSize', 8 * MiB, CHUNK_MULTIPLE, 1024 * MiB, 'a multiple of 262144 (256 KiB) bytes from 256 KiB to 1 GiB');
  if (Number.isSafeInteger(chunkSize) && chunkSize % CHUNK_MULTIPLE !== 0) problems.push('"chunkSize" must be a multiple of 262144 (256 KiB)');
  const resumableThreshold = integer('resumableThreshold', 8 * MiB, 0, 64 * MiB, 'an integer number of bytes from 0 to 64 MiB');
  const signedUrlTtl = integer('signedUrlTtl', 3600, 0, MAX_SIGNED_URL_SECONDS, `an integer number of seconds from 0 (off) to ${MAX_SIGNED_URL_SECONDS} (7 days)`);
  check.done();
  return {
    bucket: bucket!,
    prefix,
    ...(projectId !== undefined ? { projectId } : {}),
    ...(keyFilename !== undefined ? { keyFilename } : {}),
    ...(credentials !== undefined ? { credentials } : {}),
    ...(apiEndpoint !== undefined ? { apiEndpoint } : {}),
    ...(signingEndpoint !== undefined ? { signingEndpoint } : {}),
    anonymous,
    selfSignedJwt,
    chunkSize,
    resumableThreshold,
    signedUrlTtl,
  };
}

/** A driver over the configured bucket (not checked: see the definition's create). */
export function createDriver(config: GcsConfig): GcsStorageDriver {
  const options: StorageOptions = {
    // Every write replaces a whole object with bytes checked before they are sent, and a
    // resumable session resumes from what GCS persisted: retrying is safe. (The SDK's
    // default retries writes only when they carry a precondition.)
    retryOptions: { idempotencyStrategy: IdempotencyStrategy.RetryAlways },
    ...(config.projectId !== undefined ? { projectId: config.projectId } : {}),
    ...(config.keyFilename !== undefined ? { keyFilename: config.keyFilename } : {}),
    ...(config.credentials !== undefined ? { credentials: config.credentials as StorageOptions['credentials'] } : {}),
    // Without useAuthWithCustomEndpoint the SDK sends no credentials to any endpoint but
    // Google's own; a private endpoint (Private Service Connect) needs them.
    ...(config.apiEndpoint !== undefined ? { apiEndpoint: config.apiEndpoint, useAuthWithCustomEndpoint: !config.anonymous } : {}),
  };
  const storage = new Storage(options);
  // AIP-4111: the key signs its own access tokens (JWTs with the scopes); no call to
  // Google's token endpoint. GoogleAuth hands this flag to the service-account client.
  if (config.selfSignedJwt) (storage.authClient as unknown as { useJWTAccessWithScope: boolean }).useJWTAccessWithScope = true;
  return new GcsStorageDriver({
    storage,
    bucket: config.bucket,
    prefix: config.prefix,
    chunkSize: config.chunkSize,
    resumableThreshold: config.resumableThreshold,
    // Anonymous access has no key to sign with: downloads are then served by the registry.
    signedUrlTtl: config.anonymous ? 0 : config.signedUrlTtl,
    ...(config.signingEndpoint !== undefined ? { signingEndpoint: config.signingEndpoint } : {}),
  });
}

const NETWORK_ERRORS = /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE|ERR_SOCKET|UND_ERR)/;

/** Turn the start check's failure into a message that says what to fix. */
export function explainStartError(config: GcsConfig, error: unknown): Error {
  const where = `bucket "${config.bucket}"${config.apiEndpoint ? ` at ${config.apiEndpoint}` : ''}`;
  const status = statusOf(error);
  const detail = (error as Error)?.message ?? String(error);
  const code = (error as { code?: unknown } | undefined)?.code;
  let message: string;
  if (status === 404) message = `${where} does not exist`;
  else if (status === 401) message = `${where}: the credentials were refused (401 ${reasonOf(error) ?? ''}): check "keyFilename"/"credentials" or Application Default Credentials`;
  else if (status === 403) message = `${where}: access was refused (403): the account cannot even test its permissions on the bucket (${detail})`;
  else if (config.keyFilename !== undefined && /^(ENOENT|EACCES|EISDIR|EPERM)$/.test(String(code))) message = `${where}: "keyFilename" ${config.keyFilename} cannot be read (${String(code)})`;
  else if (config.keyFilename !== undefined && status === undefined && !NETWORK_ERRORS.test(String(code))) {
    // Not the parser's or signer's message (nor the error as cause): it may quote the file,
    // which holds a private key.
    return new Error(`storage driver "gcs": ${where}: "keyFilename" ${config.keyFilename} is not a usable service-account key file (JSON with "client_email" and "private_key")`);
  }
  else if (/default credentials|Could not refresh access token/i.test(detail)) {
    message = `${where}: no credentials: set "keyFilename" (a service-account key file) or "credentials", or run with Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, the metadata server, workload identity) (${detail})`;
  } else message = `cannot reach ${where}: ${detail}`;
  return new Error(`storage driver "gcs": ${message}`, { cause: error });
}

/** Build the driver and check at start that the bucket exists and the credentials may use it. */
export async function startDriver(options: Readonly<Record<string, unknown>>, env: ProviderEnvironment): Promise<GcsStorageDriver> {
  const config = parseOptions(options);
  const driver = createDriver(config);
  let missing: string[];
  try {
    missing = await driver.missingPermissions();
  } catch (error) {
    await driver.close();
    throw explainStartError(config, error);
  }
  if (missing.length > 0) {
    await driver.close();
    throw new Error(
      `storage driver "gcs": the credentials lack ${missing.join(', ')} on bucket "${config.bucket}": grant them (the "Storage Object User" role, roles/storage.objectUser, holds all four)`,
    );
  }
  env.logger.debug('gcs storage ready', { bucket: config.bucket, prefix: config.prefix, endpoint: config.apiEndpoint ?? 'google' });
  return driver;
}

export const gcsStorageDriverDefinition: StorageDriverDefinition = {
  id: GCS_STORAGE_DRIVER_ID,
  create: startDriver,
};
