import type { PluginContext } from '@registry-core/api';
import { ociFormat } from './oci-format.js';

export { ociFormat, scopesToGrants } from './oci-format.js';
export { parseManifest, MEDIA_TYPES } from './manifest.js';
export { collectGarbage } from './gc.js';

/** Plugin entry: registers the OCI format declared in package.json. */
export function activate(context: PluginContext): void {
  context.subscriptions.push(context.registerFormat(ociFormat));
}
