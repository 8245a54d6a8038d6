import type { PluginContext } from '@registry-core/api';
import { cargoFormat } from './cargo-format.js';

export { cargoFormat } from './cargo-format.js';
export { CRATES_IO_INDEX, cargoDefaultUpstreams, localCargoMirror } from './local-cargo.js';
export { canonicalName, indexPath } from './names.js';

/** Plugin entry: registers the Cargo format declared in package.json. */
export function activate(context: PluginContext): void {
  context.subscriptions.push(context.registerFormat(cargoFormat));
}
