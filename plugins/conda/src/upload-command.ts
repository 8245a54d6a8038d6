import path from 'node:path';
import type { FormatCommand } from '@registry-core/api';
import { postPackage } from './upload-client.js';

/**
 * `registry-core conda upload <files...> --repository NAME`: conda packages to a repository
 * of a running server over its HTTP upload API (`POST <repository>/-/upload`, what curl
 * uses too), one request per file; a file that fails is reported and the others go on.
 */
export const uploadCommand: FormatCommand = {
  name: 'upload',
  description: 'upload .conda and .tar.bz2 packages to a conda repository (hosted, or a group) of a running server (POST <repository>/-/upload)',
  arguments: ['files...'],
  options: [{ name: 'subdir', description: 'refuse a package whose info/index.json names another subdir' }],
  async run({ rest: files, options, repositoryUrl, authorization, print, printError }) {
    let failed = 0;
    for (const file of files) {
      try {
        const done = await postPackage(repositoryUrl, file, path.basename(file), { ...(authorization ? { authorization } : {}), ...(options['subdir'] ? { subdir: options['subdir'] } : {}) });
        if (done.ok) print(`uploaded ${done.subdir}/${done.filename} (${done.size} bytes, sha256 ${done.sha256})`);
        else {
          failed++;
          printError(`${path.basename(file)}: ${done.status} ${done.message}`);
        }
      } catch (error) {
        failed++;
        const cause = (error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'EISDIR' ? '' : `${repositoryUrl}-/upload does not answer: `;
        printError(`${path.basename(file)}: ${cause}${(error as Error).message}`);
      }
    }
    if (failed > 0) throw new Error(`${failed} of ${files.length} files not uploaded`);
  },
};
