import { createRequire } from 'node:module';

/**
 * The version of the plugin contract this package defines: the package's own version,
 * read from its package.json so a release bump can never leave it behind. Plugins declare
 * the range they need in `registryCore.apiVersion`; the host refuses a plugin whose range
 * this version does not satisfy.
 */
export const API_VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
