import type { PluginContext } from '@registry-core/api';
import { goFormat } from './go-format.js';

export { goFormat, goDefaultUpstreams, firstProxy, PUBLIC_GOPROXY } from './go-format.js';
export { escapeCase, unescapeCase, modulePathProblem, versionProblem, parseModuleRequest } from './module-path.js';
export { compareVersions, latestVersion, isPseudoVersion } from './semver.js';
export { hash1, goModHash, checkModuleZip } from './module-zip.js';
export { createModuleZip, type CreatedModuleZip } from './module-zip-create.js';

/** Plugin entry: registers the Go modules format declared in package.json. */
export function activate(context: PluginContext): void {
  context.subscriptions.push(context.registerFormat(goFormat));
}
