import type { PluginContext } from '@registry-core/api';
import { mavenFormat } from './maven-format.js';

export { mavenFormat, localMavenMirror } from './maven-format.js';
export { compareVersions } from './versions.js';

/** Plugin entry: registers the Maven format declared in package.json. */
export function activate(context: PluginContext): void {
  context.subscriptions.push(context.registerFormat(mavenFormat));
}
