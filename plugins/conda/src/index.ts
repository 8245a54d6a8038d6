import type { PluginContext } from '@registry-core/api';
import { condaFormat } from './conda-format.js';

export { condaFormat } from './conda-format.js';
export { CONDA_FORGE, condaDefaultUpstreams, localCondaForge } from './condarc.js';
export { parsePackageFilename } from './names.js';
export { Bzip2Encoder, bzip2Compressor, type Bzip2Options, type Bzip2StreamOptions } from './bzip2.js';

/** Plugin entry: registers the conda format declared in package.json. */
export function activate(context: PluginContext): void {
  context.subscriptions.push(context.registerFormat(condaFormat));
}
