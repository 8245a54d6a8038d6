import { createWriteStream } from 'node:fs';
import { lstat, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { crc32, deflateRawSync } from 'node:zlib';
import { BadRequestError } from '@registry-core/api';
import { modulePathProblem, versionProblem } from './module-path.js';
import { goModModulePath, isVendoredPackage, MAX_GO_MOD_BYTES, MAX_ZIP_BYTES } from './module-zip.js';

/** Folders the go command never puts in a module zip (version control metadata). */
const VCS_FOLDERS = new Set(['.bzr', '.git', '.hg', '.svn']);

/** What {@link createModuleZip} made. */
export interface CreatedModuleZip {
  readonly module: string;
  readonly files: number;
  readonly bytes: number;
  /** Paths left out, with why (vendored packages, nested modules, links, VCS folders). */
  readonly omitted: readonly string[];
}

/**
 * Write the module zip of the folder `dir` for `version` to `out`, with golang.org/x/mod/zip
 * CreateFromDir's rules: every file under `<module>@<version>/`; version control folders,
 * vendored packages and the folders of nested modules (a go.mod of their own) left out,
 * and anything not a regular file; case-fold collisions and the size limits refused. The
 * module path is the go.mod's (or `module` for a module without one).
 */
export async function createModuleZip(dir: string, version: string, out: string, options: { module?: string } = {}): Promise<CreatedModuleZip> {
  let goMod: string | undefined;
  try {
    const stat = await lstat(path.join(dir, 'go.mod'));
    if (stat.size > MAX_GO_MOD_BYTES) throw new BadRequestError(`go.mod is over ${MAX_GO_MOD_BYTES} bytes`);
    goMod = await readFile(path.join(dir, 'go.mod'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const named = goMod !== undefined ? goModModulePath(goMod) : undefined;
  if (goMod !== undefined && named === undefined) throw new BadRequestError(`${path.join(dir, 'go.mod')} has no module directive`);
  if (named !== undefined && options.module !== undefined && named !== options.module) throw new BadRequestError(`go.mod names the module ${named}, not ${options.module}`);
  const module = named ?? options.module;
  if (module === undefined) throw new BadRequestError(`${dir} has no go.mod: name the module`);
  const problem = modulePathProblem(module) ?? versionProblem(module, version);
  if (problem) throw new BadRequestError(problem);

  const files: string[] = [];
  const omitted: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const entry of (await readdir(path.join(dir, rel), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const name = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        if (VCS_FOLDERS.has(entry.name)) {
          omitted.push(`${name}/ (version control)`);
          continue;
        }
        const nested = await lstat(path.join(dir, name, 'go.mod')).then(() => true, () => false);
        if (nested) {
          omitted.push(`${name}/ (a nested module)`);
          continue;
        }
        await walk(name);
      } else if (!entry.isFile()) {
        omitted.push(`${name} (not a regular file)`);
      } else if (isVendoredPackage(name)) {
        omitted.push(`${name} (a vendored package)`);
      } else {
        files.push(name);
      }
    }
  };
  await walk('');
  const folded = new Map<string, string>();
  for (const file of files) {
    const other = folded.get(file.toLowerCase());
    if (other) throw new BadRequestError(`${other} and ${file} differ only in case: a module zip cannot hold both`);
    folded.set(file.toLowerCase(), file);
  }

  const prefix = `${module}@${version}/`;
  const sink = createWriteStream(out, { flags: 'wx', mode: 0o600 });
  const write = async (chunk: Buffer) => {
    if (!sink.write(chunk)) await once(sink, 'drain');
  };
  const central: Buffer[] = [];
  let offset = 0;
  let expanded = 0;
  try {
    for (const file of files) {
      const data = await readFile(path.join(dir, file));
      expanded += data.length;
      if (expanded > MAX_ZIP_BYTES) throw new BadRequestError(`the module's files are over ${MAX_ZIP_BYTES} bytes`);
      const name = Buffer.from(prefix + file, 'utf8');
      const compressed = deflateRawSync(data);
      const crc = crc32(data);
      const header = (signature: number, size: number) => {
        const b = Buffer.alloc(size);
        b.writeUInt32LE(signature, 0);
        return b;
      };
      const local = header(0x04034b50, 30);
      local.writeUInt16LE(20, 4);
      local.writeUInt16LE(0x0800, 6); // UTF-8 names
      local.writeUInt16LE(8, 8); // deflate
      local.writeUInt16LE(0x21, 12); // 1980-01-01, as the go command's zips
      local.writeUInt32LE(crc, 14);
      local.writeUInt32LE(compressed.length, 18);
      local.writeUInt32LE(data.length, 22);
      local.writeUInt16LE(name.length, 26);
      const entry = header(0x02014b50, 46);
      entry.writeUInt16LE(0x0314, 4);
      entry.writeUInt16LE(20, 6);
      entry.writeUInt16LE(0x0800, 8);
      entry.writeUInt16LE(8, 10);
      entry.writeUInt16LE(0x21, 14);
      entry.writeUInt32LE(crc, 16);
      entry.writeUInt32LE(compressed.length, 20);
      entry.writeUInt32LE(data.length, 24);
      entry.writeUInt16LE(name.length, 28);
      entry.writeUInt32LE((0o100644 << 16) >>> 0, 38);
      entry.writeUInt32LE(offset, 42);
      central.push(entry, name);
      for (const part of [local, name, compressed]) await write(part);
      offset += local.length + name.length + compressed.length;
      if (offset > MAX_ZIP_BYTES) throw new BadRequestError(`the module zip is over ${MAX_ZIP_BYTES} bytes`);
    }
    const directory = Buffer.concat(central);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(files.length, 8);
    end.writeUInt16LE(files.length, 10);
    end.writeUInt32LE(directory.length, 12);
    end.writeUInt32LE(offset, 16);
    await write(directory);
    await write(end);
  } finally {
    sink.end();
    await once(sink, 'close');
  }
  return { module, files: files.length, bytes: offset, omitted };
}
