import { openAsBlob } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { load } from '../runtime.js';
import { serverAddress } from '../server-record.js';

/**
 * `conda upload <files...>`: conda packages to a repository of a running server over its
 * HTTP upload API (`POST /<repository>/-/upload`, what curl uses too), with a token.
 */
export function registerCondaCommands(program: Command): void {
  const conda = program.command('conda').description('conda channels: upload packages');
  conda
    .command('upload <files...>')
    .description('upload .conda and .tar.bz2 packages to a conda repository of a running server (POST /<repository>/-/upload)')
    .requiredOption('--repository <name>', 'the hosted (or group) conda repository')
    .option('--token <token>', 'an API token (default: $REGISTRY_CORE_TOKEN)')
    .option('--subdir <subdir>', 'refuse a package whose info/index.json names another subdir')
    .option('--url <url>', 'address of the running server (default: the one running on the data folder, else the config)')
    .option('-c, --config <file>', 'config file')
    .action(async (files: string[], options: { repository: string; token?: string; subdir?: string; url?: string; config?: string }) => {
      let base = options.url;
      if (!base) base = serverAddress((await load(options)).config).url;
      const url = `${base.replace(/\/+$/, '')}/${encodeURIComponent(options.repository)}/-/upload`;
      const token = options.token ?? process.env['REGISTRY_CORE_TOKEN'];
      let failed = 0;
      for (const file of files) {
        const form = new FormData();
        if (options.subdir) form.set('subdir', options.subdir);
        // A file-backed Blob: streamed from disk, never read whole into memory.
        form.set('file', await openAsBlob(file), path.basename(file));
        try {
          const answer = await fetch(url, { method: 'POST', body: form, headers: token ? { authorization: `Bearer ${token}` } : {} });
          const text = await answer.text();
          if (answer.ok) {
            const done = JSON.parse(text) as { subdir: string; filename: string; sha256: string; size: number };
            console.log(`uploaded ${done.subdir}/${done.filename} (${done.size} bytes, sha256 ${done.sha256})`);
          } else {
            failed++;
            let message = text.trim();
            try {
              message = (JSON.parse(text) as { error?: string }).error ?? message;
            } catch {
              // not JSON: the text as it came
            }
            console.error(`${path.basename(file)}: ${answer.status} ${message}`);
          }
        } catch (error) {
          failed++;
          console.error(`${path.basename(file)}: ${url} does not answer: ${(error as Error).message}`);
        }
      }
      if (failed > 0) process.exitCode = 1;
    });
}
