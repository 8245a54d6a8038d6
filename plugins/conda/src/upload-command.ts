import { openAsBlob } from 'node:fs';
import { stat } from 'node:fs/promises';
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
      let blob: Blob;
      try {
        if (!(await stat(file)).isFile()) throw new Error(`${file} is not a file`);
        // A file-backed Blob: streamed from disk, never read whole into memory.
        blob = await openAsBlob(file);
      } catch (error) {
        failed++;
        printError(`${path.basename(file)}: cannot read it: ${(error as Error).message}`);
        continue;
      }
      try {
        const done = await postPackage(repositoryUrl, blob, path.basename(file), { ...(authorization ? { authorization } : {}), ...(options['subdir'] ? { subdir: options['subdir'] } : {}) });
        if (done.ok) print(`uploaded ${done.subdir}/${done.filename} (${done.size} bytes, sha256 ${done.sha256})`);
        else {
          failed++;
          printError(`${path.basename(file)}: ${done.status} ${done.message}`);
        }
      } catch (error) {
        failed++;
        printError(`${path.basename(file)}: ${repositoryUrl}-/upload does not answer: ${(error as Error).message}`);
      }
    }
    if (failed > 0) throw new Error(`${failed} of ${files.length} files not uploaded`);
  },
};
