import { createWriteStream } from 'node:fs';
import { mkdtemp, open, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { openAsBlob } from 'node:fs';
import { parseManifest } from '@registry-core/plugin-zig';
import { InvalidArgumentError, type Command } from 'commander';
import tar from 'tar-stream';

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
          for await (const chunk of handle.createReadStream()) entry.write(chunk);
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

/** `zig publish`: publish a Zig package (a folder with build.zig.zon, or a .tar.gz) to a registry's zig repository. */
export function registerZigCommands(program: Command): void {
  const zig = program.command('zig').description('Zig packages: publish to a zig repository of a running registry');
  zig
    .command('publish <package>')
    .description('publish a folder with a build.zig.zon (packed as .tar.gz with the files its .paths lists) or a .tar.gz; prints the URL, the hash and the build.zig.zon snippet')
    .requiredOption('--registry <url>', 'the zig repository (hosted, or a group with a hosted member), e.g. http://localhost:4000/zig/')
    .option('--token <token>', 'an access token (else REGISTRY_CORE_TOKEN)')
    .option('--description <text>', 'a description of the package')
    .option('--json', 'print the registry\'s JSON answer')
    .action(async (pkg: string, options: { registry: string; token?: string; description?: string; json?: boolean }) => {
      let base: URL;
      try {
        base = new URL(options.registry.endsWith('/') ? options.registry : `${options.registry}/`);
      } catch {
        throw new InvalidArgumentError('--registry must be a URL');
      }
      const info = await stat(pkg);
      const packed = info.isDirectory() ? await packDirectory(pkg) : { file: pkg, cleanup: async () => undefined };
      try {
        const form = new FormData();
        form.set('tarball', await openAsBlob(packed.file, { type: 'application/gzip' }), path.basename(packed.file));
        if (info.isDirectory()) form.set('manifest', await readFile(path.join(pkg, 'build.zig.zon'), 'utf8'));
        if (options.description) form.set('description', options.description);
        const token = options.token ?? process.env['REGISTRY_CORE_TOKEN'];
        const response = await fetch(new URL('publish', base), { method: 'POST', body: form, headers: token ? { authorization: `Bearer ${token}` } : {} });
        const text = await response.text();
        if (!response.ok) {
          let message = text;
          try {
            message = (JSON.parse(text) as { error?: string }).error ?? text;
          } catch {
            // not JSON: the text as it came
          }
          console.error(`publish failed: ${response.status} ${message}`);
          process.exitCode = 1;
          return;
        }
        const answer = JSON.parse(text) as { name: string; version: string; tarballUrl: string; hash: string; fetch: string; dependency: string };
        if (options.json) console.log(JSON.stringify(answer, null, 2));
        else console.log(`published ${answer.name} ${answer.version}\n  ${answer.tarballUrl}\n  hash ${answer.hash}\n\n  ${answer.fetch}\n\nbuild.zig.zon:\n${answer.dependency}`);
      } finally {
        await packed.cleanup();
      }
    });
}
