import path from 'node:path';
import type { AuthProviderDefinition, PluginContext } from '@registry-core/api';
import { HtpasswdProvider, type HtpasswdOptions } from './htpasswd.js';

export { HtpasswdProvider, type HtpasswdOptions } from './htpasswd.js';

/** Id of this provider in `auth.providers`. */
export const HTPASSWD_PROVIDER_ID = 'htpasswd';

/** Check the provider's config block; every problem is named with its key. */
export function parseOptions(options: Readonly<Record<string, unknown>>, configDir: string): HtpasswdOptions {
  const problems: string[] = [];
  const known = new Set(['file', 'allowRegistration', 'maxUsers', 'bcryptRounds', 'groups']);
  for (const key of Object.keys(options)) if (!known.has(key)) problems.push(`unknown option "${key}"`);
  const file = options['file'];
  if (typeof file !== 'string' || file.trim() === '') problems.push('"file" is required: the htpasswd file');
  const allowRegistration = options['allowRegistration'] ?? false;
  if (typeof allowRegistration !== 'boolean') problems.push('"allowRegistration" must be true or false');
  const maxUsers = options['maxUsers'] ?? Infinity;
  if (maxUsers !== Infinity && (!Number.isInteger(maxUsers) || (maxUsers as number) < 0)) problems.push('"maxUsers" must be a non-negative integer');
  const bcryptRounds = options['bcryptRounds'] ?? 10;
  if (!Number.isInteger(bcryptRounds) || (bcryptRounds as number) < 4 || (bcryptRounds as number) > 16) problems.push('"bcryptRounds" must be an integer from 4 to 16');
  const groups = options['groups'] ?? {};
  if (typeof groups !== 'object' || groups === null || Array.isArray(groups) || Object.values(groups).some((m) => !Array.isArray(m) || m.some((u) => typeof u !== 'string'))) {
    problems.push('"groups" must map group names to lists of user names');
  }
  if (problems.length > 0) throw new TypeError(`auth provider htpasswd: ${problems.join('; ')}`);
  return {
    file: path.resolve(configDir, file as string),
    allowRegistration: allowRegistration as boolean,
    maxUsers: maxUsers as number,
    bcryptRounds: bcryptRounds as number,
    groups: groups as Record<string, string[]>,
  };
}

export const htpasswdProviderDefinition: AuthProviderDefinition = {
  id: HTPASSWD_PROVIDER_ID,
  create(options, env) {
    return new HtpasswdProvider(parseOptions(options, env.configDir), env.logger);
  },
};

/** Plugin entry: registers the `htpasswd` auth provider declared in package.json. */
export function activate(context: PluginContext): void {
  context.subscriptions.push(context.registerAuthProvider(htpasswdProviderDefinition));
}
