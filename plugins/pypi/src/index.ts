import type { PluginContext } from '@registry-core/api';
import { pypiFormat } from './pypi-format.js';

export { pypiFormat, localPipIndex, pipDefaultUpstreams } from './pypi-format.js';
export { normalizeName } from './names.js';

/** Plugin entry: registers the PyPI format declared in package.json. */
export function activate(context: PluginContext): void {
  context.subscriptions.push(context.registerFormat(pypiFormat));
}
