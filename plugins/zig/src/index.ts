import type { PluginContext } from '@registry-core/api';
import { zigFormat } from './zig-format.js';

export { zigFormat } from './zig-format.js';
export { parseZon, ZonError, type ZonValue } from './zon.js';
export { parseManifest, type ZigManifest } from './manifest.js';
export { hashArchive, packageHashOf, type PackageDigest } from './package-hash.js';

/** Plugin entry: registers the Zig format declared in package.json. */
export function activate(context: PluginContext): void {
  context.subscriptions.push(context.registerFormat(zigFormat));
}
