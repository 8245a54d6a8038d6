import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import type { PluginContext, StorageDriverDefinition } from '@registry-core/api';
import { AzureStorageDriver } from './azure-storage-driver.js';

export { AzureStorageDriver, type AzureDriverOptions } from './azure-storage-driver.js';

/** Id of this driver in the config (`storage.<name>.driver: azure`). */
export const AZURE_STORAGE_DRIVER_ID = 'azure';

const MiB = 1024 * 1024;

export interface AzureConfig {
  readonly container: string;
  readonly prefix: string;
  readonly blockSize: number;
  readonly concurrency: number;
  readonly connectionString?: string;
  readonly accountName?: string;
  readonly accountKey?: string;
  readonly endpoint?: string;
}

/** Check the driver's config block; every problem is named with its key. */
export function parseOptions(options: Readonly<Record<string, unknown>>): AzureConfig {
  const problems: string[] = [];
  const known = new Set(['container', 'prefix', 'blockSize', 'concurrency', 'connectionString', 'accountName', 'accountKey', 'endpoint']);
  for (const key of Object.keys(options)) if (!known.has(key)) problems.push(`unknown option "${key}"`);
  const string = (key: string) => {
    const value = options[key];
    if (value !== undefined && (typeof value !== 'string' || value === '')) problems.push(`"${key}" must be a non-empty string`);
    return value as string | undefined;
  };
  const container = string('container');
  if (container === undefined) problems.push('"container" is required');
  else if (!/^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$/.test(container)) problems.push('"container" must be a valid container name (3-63 lower-case letters, digits, single hyphens)');
  let prefix = string('prefix') ?? '';
  if (prefix !== '' && !prefix.endsWith('/')) prefix = `${prefix}/`;
  const connectionString = string('connectionString') ?? process.env['AZURE_STORAGE_CONNECTION_STRING'];
  const accountName = string('accountName');
  const accountKey = string('accountKey');
  const endpoint = string('endpoint');
  if (endpoint !== undefined && !/^https?:\/\//.test(endpoint)) problems.push('"endpoint" must be an http(s) URL');
  if (!connectionString && !(accountName && accountKey)) problems.push('give "connectionString" (or AZURE_STORAGE_CONNECTION_STRING), or "accountName" and "accountKey"');
  const blockSize = options['blockSize'] ?? 8 * MiB;
  if (!Number.isInteger(blockSize) || (blockSize as number) < 1 * MiB || (blockSize as number) > 100 * MiB) problems.push('"blockSize" must be an integer from 1 MiB to 100 MiB');
  const concurrency = options['concurrency'] ?? 2;
  if (!Number.isInteger(concurrency) || (concurrency as number) < 1 || (concurrency as number) > 16) problems.push('"concurrency" must be an integer from 1 to 16');
  if (problems.length > 0) throw new TypeError(`storage driver "azure": ${problems.join('; ')}`);
  return {
    container: container!,
    prefix,
    blockSize: blockSize as number,
    concurrency: concurrency as number,
    ...(connectionString ? { connectionString } : {}),
    ...(accountName ? { accountName } : {}),
    ...(accountKey ? { accountKey } : {}),
    ...(endpoint ? { endpoint } : {}),
  };
}

/** A driver over the configured container (not checked: see the definition's create). */
export function createDriver(config: AzureConfig): AzureStorageDriver {
  let service: BlobServiceClient;
  let sharedKey: StorageSharedKeyCredential | undefined;
  if (config.accountName && config.accountKey) {
    sharedKey = new StorageSharedKeyCredential(config.accountName, config.accountKey);
    service = new BlobServiceClient(config.endpoint ?? `https://${config.accountName}.blob.core.windows.net`, sharedKey);
  } else {
    service = BlobServiceClient.fromConnectionString(config.connectionString!);
    const name = /AccountName=([^;]+)/.exec(config.connectionString!)?.[1];
    const key = /AccountKey=([^;]+)/.exec(config.connectionString!)?.[1];
    if (name && key) sharedKey = new StorageSharedKeyCredential(name, key);
  }
  return new AzureStorageDriver({ container: service.getContainerClient(config.container), ...(sharedKey ? { sharedKey } : {}), prefix: config.prefix, blockSize: config.blockSize, concurrency: config.concurrency });
}

export const azureStorageDriverDefinition: StorageDriverDefinition = {
  id: AZURE_STORAGE_DRIVER_ID,
  async create(options, env): Promise<AzureStorageDriver> {
    const config = parseOptions(options);
    const driver = createDriver(config);
    let exists: boolean;
    try {
      exists = await driver.containerExists();
    } catch (error) {
      const status = (error as { statusCode?: number }).statusCode;
      if (status === 403) throw new Error(`storage driver "azure": access to container "${config.container}" was refused: check the account key or connection string`);
      throw new Error(`storage driver "azure": cannot reach container "${config.container}": ${(error as Error).message}`);
    }
    if (!exists) throw new Error(`storage driver "azure": container "${config.container}" does not exist`);
    env.logger.debug('azure storage ready', { container: config.container, prefix: config.prefix });
    return driver;
  },
};

/** Plugin entry: registers the `azure` storage driver declared in package.json. */
export function activate(context: PluginContext): void {
  context.subscriptions.push(context.registerStorageDriver(azureStorageDriverDefinition));
}
