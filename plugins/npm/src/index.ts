import type { PluginContext } from '@registry-core/api';
import { npmFormat } from './npm-format.js';

export { npmFormat, localNpmRegistry, npmDefaultUpstreams } from './npm-format.js';
export { parseName, type PackageName } from './names.js';
export { parseNpmPath, type NpmPath } from './paths.js';

/** Plugin entry: registers the npm format declared in package.json. */
export function activate(context: PluginContext): void {
  context.subscriptions.push(context.registerFormat(npmFormat));
}
