import { once } from 'node:events';
import { createWriteStream, openAsBlob } from 'node:fs';
import { mkdtemp, open, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { FormatCommand } from '@registry-core/api';
import tar from 'tar-stream';
import { parseManifest } from './manifest.js';

/** Folders a package directory holds that are never part of the package. */
const SKIPPED = new Set(['.git', '.zig-cache', 'zig-cache', 'zig-out', 'node_modules']);

/** Whether `relative` is in the package that `.paths` describes (zig's rule: a listed path or under a listed folder). */
function included(relative: string, paths: readonly string[] | undefined): boolean {
  if (!paths || paths.length === 0 || paths.includes('')) return true;
  const parts = relative.split('/');
  return parts.some((_, i) => paths.includes(parts.slice(0, i + 1).join('/')));
}

async function filesOf(root: string, paths: readonly string[] | undefined): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      const relative = path.relative(root, full).split(path.sep).join('/');
      if (entry.isDirectory()) {
        if (!SKIPPED.has(entry.name)) await walk(full);
      } else if ((entry.isFile() || entry.isSymbolicLink()) && included(relative, paths)) out.push(relative);
    }
  };
  await walk(root);
  return out.sort();
}

/** A `.tar.gz` of the package in `dir` (the files its `.paths` lists) under `<name>-<version>/`, in a temporary folder. */
async function packDirectory(dir: string): Promise<{ file: string; cleanup: () => Promise<void> }> {
  const manifest = parseManifest(await readFile(path.join(dir, 'build.zig.zon')));
  const folder = await mkdtemp(path.join(tmpdir(), 'registry-core-zig-'));
  const file = path.join(folder, `${manifest.name}-${manifest.version}.tar.gz`);
  const pack = tar.pack();
  const written = pipeline(pack, createGzip(), createWriteStream(file));
  const top = `${manifest.name}-${manifest.version}`;
  for (const relative of await filesOf(dir, manifest.paths)) {
    const full = path.join(dir, relative);
    const info = await stat(full);
    if (!info.isFile()) continue;
    await new Promise<void>((resolve, reject) => {
      const entry = pack.entry({ name: `${top}/${relative}`, size: info.size, mode: 0o644, mtime: new Date(0) }, (error) => (error ? reject(error) : resolve()));
      void (async () => {
        const handle = await open(full);
        try {
          // The archive's pace, not the disk's: a large file is never held whole in memory.
          for await (const chunk of handle.createReadStream()) if (!entry.write(chunk)) await once(entry, 'drain');
        } finally {
          await handle.close().catch(() => undefined);
        }
        entry.end(undefined);
      })().catch(reject);
    });
  }
  pack.finalize();
  await written;
  return { file, cleanup: () => rm(folder, { recursive: true, force: true }) };
}

/**
 * `registry-core zig publish <package> --repository NAME` (or `--registry <repository URL>`):
 * a folder with a build.zig.zon (packed as .tar.gz with the files its .paths lists) or a
 * .tar.gz, POSTed to the repository's `publish`; prints the URL, the hash and the
 * build.zig.zon snippet.
 */
export const publishCommand: FormatCommand = {
  name: 'publish',
  description: 'publish a folder with a build.zig.zon (packed as .tar.gz with the files its .paths lists) or a .tar.gz; prints the URL, the hash and the build.zig.zon snippet',
  arguments: ['package'],
  options: [
    { name: 'description', description: 'a description of the package' },
    { name: 'json', description: "print the registry's JSON answer", flag: true },
  ],
  async run({ args, options, repositoryUrl, authorization, print }) {
    const pkg = args['package']!;
    const info = await stat(pkg);
    const packed = info.isDirectory() ? await packDirectory(pkg) : { file: pkg, cleanup: async () => undefined };
    try {
      const form = new FormData();
      // A file-backed Blob: streamed from disk, never read whole into memory.
      form.set('tarball', await openAsBlob(packed.file, { type: 'application/gzip' }), path.basename(packed.file));
      if (info.isDirectory()) form.set('manifest', await readFile(path.join(pkg, 'build.zig.zon'), 'utf8'));
      if (options['description']) form.set('description', options['description']);
      const response = await fetch(new URL('publish', repositoryUrl), { method: 'POST', body: form, headers: authorization ? { authorization } : {} });
      const text = await response.text();
      if (!response.ok) {
        let message = text;
        try {
          message = (JSON.parse(text) as { error?: string }).error ?? text;
        } catch {
          // not JSON: the text as it came
        }
        throw new Error(`publish failed: ${response.status} ${message}`);
      }
      const answer = JSON.parse(text) as { name: string; version: string; tarballUrl: string; hash: string; fetch: string; dependency: string };
      if (options['json']) print(JSON.stringify(answer, null, 2));
      else print(`published ${answer.name} ${answer.version}\n  ${answer.tarballUrl}\n  hash ${answer.hash}\n\n  ${answer.fetch}\n\nbuild.zig.zon:\n${answer.dependency}`);
    } finally {
      await packed.cleanup();
    }
  },
};
