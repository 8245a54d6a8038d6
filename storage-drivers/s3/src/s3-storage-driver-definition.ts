import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { checkDriverOptions, type ProviderEnvironment, type StorageDriverDefinition } from '@registry-core/api';
import { MAX_PRESIGNED_URL_SECONDS, S3StorageDriver, s3CodeOf, statusOf } from './s3-storage-driver.js';

/** Id of this driver in the config (`storage.<name>.driver: s3`). */
export const S3_STORAGE_DRIVER_ID = 's3';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** The driver's config block, checked. */
export interface S3Config {
  readonly bucket: string;
  readonly region: string;
  readonly endpoint?: string;
  /** Where clients reach the store, when not at `endpoint` (used only to sign download URLs). */
  readonly publicEndpoint?: string;
  readonly forcePathStyle: boolean;
  readonly prefix: string;
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
  readonly sessionToken?: string;
  readonly partSize: number;
  readonly queueSize: number;
  readonly presignedUrlTtl: number;
  readonly conditionalWrites: boolean;
}

const KNOWN = [
  'bucket',
  'region',
  'endpoint',
  'publicEndpoint',
  'forcePathStyle',
  'prefix',
  'accessKeyId',
  'secretAccessKey',
  'sessionToken',
  'partSize',
  'queueSize',
  'presignedUrlTtl',
  'conditionalWrites',
];

/** Check the driver's config block; every problem is named with its key. */
export function parseOptions(options: Readonly<Record<string, unknown>>): S3Config {
  const check = checkDriverOptions(S3_STORAGE_DRIVER_ID, options, KNOWN);
  const { problems, string, integer, boolean, url } = check;

  const bucket = string('bucket');
  if (options['bucket'] === undefined) problems.push('"bucket" is required');
  else if (bucket !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/.test(bucket)) problems.push('"bucket" must be a bucket name (letters, digits, ".", "-", "_"; no "/")');
  const region = string('region') ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? 'us-east-1';
  const endpoint = url('endpoint', 'http://127.0.0.1:9000');
  const publicEndpoint = url('publicEndpoint', 'https://s3.example.com');
  const forcePathStyle = boolean('forcePathStyle', endpoint !== undefined);
  const prefix = check.prefix();
  const accessKeyId = string('accessKeyId');
  const secretAccessKey = string('secretAccessKey');
  const sessionToken = string('sessionToken');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) problems.push('give both "accessKeyId" and "secretAccessKey", or neither (then the AWS default chain is used)');
  if (sessionToken !== undefined && accessKeyId === undefined) problems.push('"sessionToken" needs "accessKeyId" and "secretAccessKey"');
  const partSize = integer('partSize', 8 * MiB, 5 * MiB, 5 * GiB, 'an integer number of bytes from 5 MiB (5242880) to 5 GiB');
  const queueSize = integer('queueSize', 2, 1, 16, 'an integer from 1 to 16');
  const presignedUrlTtl = integer('presignedUrlTtl', 3600, 0, MAX_PRESIGNED_URL_SECONDS, `an integer number of seconds from 0 (off) to ${MAX_PRESIGNED_URL_SECONDS} (7 days)`);
  const conditionalWrites = boolean('conditionalWrites', true);
  check.done();
  return {
    bucket: bucket!,
    region,
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(publicEndpoint !== undefined ? { publicEndpoint } : {}),
    forcePathStyle,
    prefix,
    ...(accessKeyId !== undefined ? { accessKeyId } : {}),
    ...(secretAccessKey !== undefined ? { secretAccessKey } : {}),
    ...(sessionToken !== undefined ? { sessionToken } : {}),
    partSize,
    queueSize,
    presignedUrlTtl,
    conditionalWrites,
  };
}

/** A driver over the configured bucket (not checked: see the definition's create). */
export function createDriver(config: S3Config, extra: { copyObjectLimit?: number } = {}): S3StorageDriver {
  const clientConfig: S3ClientConfig = {
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    ...(config.endpoint !== undefined ? { endpoint: config.endpoint } : {}),
    ...(config.accessKeyId !== undefined
      ? {
          credentials: {
            accessKeyId: config.accessKeyId,
            secretAccessKey: config.secretAccessKey!,
            ...(config.sessionToken !== undefined ? { sessionToken: config.sessionToken } : {}),
          },
        }
      : {}),
  };
  return new S3StorageDriver({
    client: new S3Client(clientConfig),
    ...(config.publicEndpoint !== undefined ? { presignClient: new S3Client({ ...clientConfig, endpoint: config.publicEndpoint }) } : {}),
    bucket: config.bucket,
    prefix: config.prefix,
    partSize: config.partSize,
    queueSize: config.queueSize,
    presignedUrlTtl: config.presignedUrlTtl,
    conditionalWrites: config.conditionalWrites,
    ...extra,
  });
}

/** Turn HeadBucket's failure into a message that says what to fix. */
export function explainBucketError(config: S3Config, error: unknown): Error {
  const where = `bucket "${config.bucket}"${config.endpoint ? ` at ${config.endpoint}` : ` in region ${config.region}`}`;
  const status = statusOf(error);
  const code = s3CodeOf(error);
  const detail = (error as Error)?.message;
  let message: string;
  if (status === 404 || code === 'NoSuchBucket' || code === 'NotFound') message = `${where} does not exist`;
  else if (code === 'InvalidAccessKeyId') message = `${where}: the access key id is not known to the store (InvalidAccessKeyId): check "accessKeyId"`;
  else if (code === 'SignatureDoesNotMatch') message = `${where}: the request signature does not match (SignatureDoesNotMatch): check "secretAccessKey"`;
  else if (status === 403) message = `${where}: access was refused (403 ${code ?? ''}): the credentials are wrong or lack s3:ListBucket on the bucket`;
  else if (status === 301 || code === 'PermanentRedirect') message = `${where}: the bucket is in another region: set "region"`;
  else if (code === 'CredentialsProviderError') message = `${where}: no credentials: set "accessKeyId" and "secretAccessKey", or configure the AWS default chain (environment, shared config, instance role)`;
  else message = `cannot reach ${where}: ${detail}`;
  return new Error(`storage driver "s3": ${message}`, { cause: error });
}

export const s3StorageDriverDefinition: StorageDriverDefinition = {
  id: S3_STORAGE_DRIVER_ID,
  async create(options: Readonly<Record<string, unknown>>, env: ProviderEnvironment): Promise<S3StorageDriver> {
    const config = parseOptions(options);
    const driver = createDriver(config);
    try {
      await driver.checkBucket();
    } catch (error) {
      let reason = error;
      // A HEAD answer has no body, so a 403 says nothing about why: a one-key listing does.
      if (statusOf(error) === 403) reason = await driver.list('', { limit: 1 }).then(() => error, (listError: unknown) => listError);
      await driver.close();
      throw explainBucketError(config, reason);
    }
    env.logger.debug('s3 storage ready', { bucket: config.bucket, prefix: config.prefix, endpoint: config.endpoint ?? 'aws' });
    return driver;
  },
};
