import type { PluginContext } from '@registry-core/api';
import { nugetFormat } from './nuget-format.js';

export { nugetFormat, NUGET_ORG } from './nuget-format.js';
export { compareVersions, normalizedVersion, parseVersion } from './versions.js';

/** Plugin entry: registers the NuGet format declared in package.json. */
export function activate(context: PluginContext): void {
  context.subscriptions.push(context.registerFormat(nugetFormat));
}
