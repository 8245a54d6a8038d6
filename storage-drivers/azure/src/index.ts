import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { BlobServiceClient, StorageSharedKeyCredential, type UserDelegationKey } from '@azure/storage-blob';
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
  /** Microsoft Entra ID: the client id of a user-assigned managed identity. */
  readonly clientId?: string;
}

/** Check the driver's config block; every problem is named with its key. */
export function parseOptions(options: Readonly<Record<string, unknown>>): AzureConfig {
  const problems: string[] = [];
  const known = new Set(['container', 'prefix', 'blockSize', 'concurrency', 'connectionString', 'accountName', 'accountKey', 'endpoint', 'clientId']);
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
  const clientId = string('clientId');
  // accountName alone: Microsoft Entra ID through the default credential chain.
  if (!connectionString && !accountName) problems.push('give "accountName" (with "accountKey", or alone for Microsoft Entra ID credentials), or "connectionString" (or AZURE_STORAGE_CONNECTION_STRING)');
  if (clientId !== undefined && (accountKey !== undefined || (connectionString && !accountName))) problems.push('"clientId" is for Microsoft Entra ID credentials (accountName without accountKey)');
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
    ...(clientId ? { clientId } : {}),
  };
}

/** Whether the config authenticates with Microsoft Entra ID (the default credential chain). */
export const usesEntraId = (config: AzureConfig) => !!config.accountName && !config.accountKey;

/** User delegation keys for SAS URLs under Entra ID: one a day, renewed an hour before it ends. */
function delegationKeys(service: BlobServiceClient, accountName: string): () => Promise<{ key: UserDelegationKey; accountName: string }> {
  let current: Promise<UserDelegationKey> | undefined;
  return async () => {
    const usable = current && (await current.catch(() => undefined));
    if (!usable || usable.signedExpiresOn.getTime() - Date.now() < 3_600_000) {
      // Whole seconds: a SAS carries the key's times to the second, and a store that derives
      // the key from them (Azurite does) must see the same instants.
      const now = Math.floor(Date.now() / 1000) * 1000;
      current = service.getUserDelegationKey(new Date(now - 60_000), new Date(now + 24 * 3_600_000));
    }
    return { key: await current!, accountName };
  };
}

/** A driver over the configured container (not checked: see the definition's create). */
export function createDriver(config: AzureConfig, extra: { credential?: TokenCredential } = {}): AzureStorageDriver {
  let service: BlobServiceClient;
  let sharedKey: StorageSharedKeyCredential | undefined;
  let delegationKey: ReturnType<typeof delegationKeys> | undefined;
  const endpoint = config.endpoint ?? `https://${config.accountName}.blob.core.windows.net`;
  if (config.accountName && config.accountKey) {
    sharedKey = new StorageSharedKeyCredential(config.accountName, config.accountKey);
    service = new BlobServiceClient(endpoint, sharedKey);
  } else if (config.accountName) {
    // Environment (service principal), workload identity, managed identity, Azure CLI...
    const credential = extra.credential ?? new DefaultAzureCredential(config.clientId ? { managedIdentityClientId: config.clientId } : {});
    service = new BlobServiceClient(endpoint, credential);
    delegationKey = delegationKeys(service, config.accountName);
  } else {
    service = BlobServiceClient.fromConnectionString(config.connectionString!);
    const name = /AccountName=([^;]+)/.exec(config.connectionString!)?.[1];
    const key = /AccountKey=([^;]+)/.exec(config.connectionString!)?.[1];
    if (name && key) sharedKey = new StorageSharedKeyCredential(name, key);
  }
  return new AzureStorageDriver({
    container: service.getContainerClient(config.container),
    ...(sharedKey ? { sharedKey } : {}),
    ...(delegationKey ? { delegationKey } : {}),
    prefix: config.prefix,
    blockSize: config.blockSize,
    concurrency: config.concurrency,
  });
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
      throw explainStartError(config, error);
    }
    if (!exists) throw new Error(`storage driver "azure": container "${config.container}" does not exist`);
    env.logger.debug('azure storage ready', { container: config.container, prefix: config.prefix });
    return driver;
  },
};

/** What to fix, from the error of the container check at start. */
export function explainStartError(config: AzureConfig, error: unknown): Error {
  const status = (error as { statusCode?: number }).statusCode;
  const name = (error as { name?: string }).name;
  const where = `container "${config.container}"`;
  let message: string;
  if (name === 'CredentialUnavailableError' || name === 'AggregateAuthenticationError' || name === 'AuthenticationError') {
    message = `no Microsoft Entra ID credential could sign in (${(error as Error).message.split('\n')[0]}): set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, run with a managed identity ("clientId" for a user-assigned one), or give "accountKey" or "connectionString"`;
  } else if (status === 403 && usesEntraId(config)) {
    message = `access to ${where} was refused: the identity needs the "Storage Blob Data Contributor" role on the account or container`;
  } else if (status === 403) {
    message = `access to ${where} was refused: check the account key or connection string`;
  } else {
    message = `cannot reach ${where}: ${(error as Error).message}`;
  }
  return new Error(`storage driver "azure": ${message}`, { cause: error });
}

/** Plugin entry: registers the `azure` storage driver declared in package.json. */
export function activate(context: PluginContext): void {
  context.subscriptions.push(context.registerStorageDriver(azureStorageDriverDefinition));
}
