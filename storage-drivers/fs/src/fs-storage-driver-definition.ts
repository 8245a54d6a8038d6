import { isAbsolute, resolve } from 'node:path';
import type { ProviderEnvironment, StorageDriverDefinition } from '@registry-core/api';
import { FsStorageDriver } from './fs-storage-driver.js';

/** Id of this driver in the config (`storage.<name>.driver: fs`). */
export const FS_STORAGE_DRIVER_ID = 'fs';

/**
 * The `fs` storage driver as a plugin registers it. Config: `path` (required), the root
 * folder; a relative path resolves against the folder of the config file. `accelRedirect`
 * (optional): the internal nginx location that maps to that folder, to let nginx send the
 * bytes (`X-Accel-Redirect`) of requests nginx marks as able to take them.
 */
export const fsStorageDriverDefinition: StorageDriverDefinition = {
  id: FS_STORAGE_DRIVER_ID,
  async create(options: Readonly<Record<string, unknown>>, env: ProviderEnvironment): Promise<FsStorageDriver> {
    const path = options['path'];
    if (typeof path !== 'string' || path.trim() === '') {
      throw new TypeError('storage driver "fs" needs a "path" option: the folder that holds the blobs');
    }
    const root = isAbsolute(path) ? resolve(path) : resolve(env.configDir, path);
    const accelRedirect = options['accelRedirect'];
    if (accelRedirect !== undefined && typeof accelRedirect !== 'string') throw new TypeError('storage driver "fs": "accelRedirect" must be a string such as "/_registry_blobs/"');
    const driver = new FsStorageDriver(root, accelRedirect === undefined ? {} : { accelRedirect });
    await driver.init();
    env.logger.debug('fs storage ready', { root });
    return driver;
  },
};
