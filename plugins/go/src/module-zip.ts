import { createHash } from 'node:crypto';
import { BadRequestError, PayloadTooLargeError } from '@registry-core/api';
import yauzl from 'yauzl';

/**
 * Module zips as golang.org/x/mod/zip makes and checks them, and the `h1:` hashes of
 * golang.org/x/mod/sumdb/dirhash that go.sum lines and the checksum database carry.
 */

/** zip.MaxZipFile: the largest module zip (compressed and expanded). */
export const MAX_ZIP_BYTES = 500 * 1024 * 1024;
/** zip.MaxGoMod: the largest go.mod. */
export const MAX_GO_MOD_BYTES = 16 * 1024 * 1024;
/** zip.MaxLICENSE: the largest LICENSE at the module root. */
const MAX_LICENSE_BYTES = 16 * 1024 * 1024;
const MAX_ENTRIES = 100_000;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

function refuse(why: string): never {
  throw new BadRequestError(`invalid module zip: ${why}`);
}

/** dirhash.Hash1 over `files` (name and sha256 hex of the content), as `h1:<base64>`. */
export function hash1(files: readonly { readonly name: string; readonly sha256: string }[]): string {
  const summary = createHash('sha256');
  for (const file of [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (file.name.includes('\n')) refuse('a file name holds a newline');
    summary.update(`${file.sha256}  ${file.name}\n`);
  }
  return `h1:${summary.digest('base64')}`;
}

/** The `h1:` of a go.mod, as the `<module> <version>/go.mod h1:` line of go.sum has it. */
export function goModHash(goMod: Buffer | string): string {
  return hash1([{ name: 'go.mod', sha256: createHash('sha256').update(goMod).digest('hex') }]);
}

/** A zip on disk, read entry by entry; what yauzl cannot open is a BadRequestError. */
async function openZip(file: string, strictFileNames: boolean): Promise<yauzl.ZipFile> {
  try {
    return await new Promise<yauzl.ZipFile>((resolve, reject) =>
      yauzl.open(file, { lazyEntries: true, autoClose: false, decodeStrings: true, validateEntrySizes: true, strictFileNames }, (error, opened) => (error ? reject(error) : resolve(opened))),
    );
  } catch (error) {
    return refuse(`not a readable zip (${(error as Error).message})`);
  }
}

/** The sha256 (hex) of an entry's content; its bytes also pushed to `keep` when given. */
async function entrySha256(zip: yauzl.ZipFile, entry: yauzl.Entry, keep?: Buffer[]): Promise<string> {
  const stream = await new Promise<NodeJS.ReadableStream>((resolve, reject) => zip.openReadStream(entry, (error, opened) => (error ? reject(new BadRequestError(`invalid module zip: ${error.message}`)) : resolve(opened))));
  const hash = createHash('sha256');
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      hash.update(chunk);
      keep?.push(chunk);
    }
  } catch (error) {
    refuse(`the entry ${JSON.stringify(entry.fileName)} cannot be read (${(error as Error).message})`);
  }
  return hash.digest('hex');
}

/**
 * dirhash.HashZip: the `h1:` over every entry of a zip on disk (its full name, directory
 * entries included), checking nothing else, as the go command hashes a downloaded zip. Bounded
 * like a module zip (entries, expanded bytes); what yauzl cannot read is a BadRequestError.
 */
export async function hashZipFile(file: string): Promise<string> {
  const zip = await openZip(file, false);
  try {
    const files: { name: string; sha256: string }[] = [];
    let expanded = 0;
    for (;;) {
      const entry = await new Promise<yauzl.Entry | undefined>((resolve, reject) => {
        const cleanup = () => zip.removeAllListeners('entry').removeAllListeners('end').removeAllListeners('error');
        zip.once('entry', (e: yauzl.Entry) => (cleanup(), resolve(e)));
        zip.once('end', () => (cleanup(), resolve(undefined)));
        zip.once('error', (error: Error) => (cleanup(), reject(new BadRequestError(`invalid module zip: ${error.message}`))));
        zip.readEntry();
      });
      if (!entry) break;
      if (files.length >= MAX_ENTRIES) refuse(`more than ${MAX_ENTRIES} files`);
      expanded += entry.uncompressedSize;
      if (expanded > MAX_ZIP_BYTES) throw new PayloadTooLargeError(`invalid module zip: its files expand to more than ${MAX_ZIP_BYTES} bytes`);
      files.push({ name: entry.fileName, sha256: await entrySha256(zip, entry) });
    }
    return hash1(files);
  } finally {
    zip.close();
  }
}

/** The module path a go.mod's `module` directive names, or `undefined` when it has none. */
export function goModModulePath(goMod: string): string | undefined {
  for (const raw of goMod.split('\n')) {
    const line = raw.replace(/\/\/.*$/, '').trim();
    const m = /^module\s+(?:"((?:[^"\\]|\\.)*)"|`([^`]*)`|(\S+))$/.exec(line);
    if (m) return m[1] ?? m[2] ?? m[3];
    if (/^module\s*\(/.test(line)) return undefined;
  }
  return undefined;
}

/**
 * Whether a file path inside a module is in a vendored package, which the go command leaves
 * out of module zips: golang.org/x/mod/zip's isVendoredPackage, its odd offset for a nested
 * `/vendor/` kept for the same answers.
 */
export function isVendoredPackage(name: string): boolean {
  let i: number;
  if (name.startsWith('vendor/')) i = 'vendor/'.length;
  else if (name.includes('/vendor/')) i = '/vendor/'.length;
  else return false;
  return name.slice(i).includes('/');
}

/** A checked module zip: its hashes and its go.mod (synthesised when it has none). */
export interface CheckedModuleZip {
  /** The go.sum hash of the zip's files. */
  readonly h1: string;
  readonly goMod: Buffer;
  readonly goModH1: string;
  /** Whether the zip holds a go.mod of its own. */
  readonly hasGoMod: boolean;
  readonly files: number;
}

/** One file name below `<module>@<version>/`, checked as module.CheckFilePath does. */
function checkFileName(rel: string, entry: string): void {
  if (rel === '') refuse(`the entry ${JSON.stringify(entry)} names no file`);
  for (const element of rel.split('/')) {
    if (element === '' || element === '.' || element === '..') refuse(`the entry ${JSON.stringify(entry)} has an empty, "." or ".." path element`);
    // module.fileNameOK: letters, digits and a set of punctuation; no backslashes, colons, quotes.
    if (!/^[\p{L}\p{N}!#$%&()+,\-.=@[\]^_{}~ ]+$/u.test(element)) refuse(`the entry ${JSON.stringify(entry)} has a character file paths in modules do not allow`);
  }
}

/**
 * Check a module zip on disk for `module@version` (every rule of zip.CheckZip that can be
 * checked without the go command: the `module@version/` prefix, file names, no
 * directories, symbolic links or case-fold collisions, no vendored packages or nested
 * modules, the size limits, go.mod's module line) and hash its files.
 */
export async function checkModuleZip(file: string, module: string, version: string): Promise<CheckedModuleZip> {
  const prefix = `${module}@${version}/`;
  const zip = await openZip(file, true);
  try {
    const entries: yauzl.Entry[] = [];
    const directories: yauzl.Entry[] = [];
    const folded = new Map<string, string>();
    let expanded = 0;
    await new Promise<void>((resolve, reject) => {
      zip.on('entry', (entry: yauzl.Entry) => {
        try {
          const name = entry.fileName;
          if (entries.length + directories.length >= MAX_ENTRIES) refuse(`more than ${MAX_ENTRIES} files`);
          if (!name.startsWith(prefix)) refuse(`the entry ${JSON.stringify(name)} is not under ${prefix}`);
          const rel = name.slice(prefix.length);
          // Directory entries (zips made with `zip -r`) hold nothing: checked, then passed
          // over as the go command passes them over (they still count in the h1:, as in
          // dirhash.HashZip, which the go command computes over the same zip).
          if (rel === '' || rel.endsWith('/')) {
            if (rel !== '') checkFileName(rel.slice(0, -1), name);
            if (entry.uncompressedSize !== 0) refuse(`the directory entry ${JSON.stringify(name)} has content`);
            directories.push(entry);
            zip.readEntry();
            return;
          }
          checkFileName(rel, name);
          const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
          if (mode !== 0 && mode !== S_IFREG) refuse(`the entry ${JSON.stringify(name)} is not a regular file`);
          if (entry.isEncrypted()) refuse(`the entry ${JSON.stringify(name)} is encrypted`);
          const key = name.toLowerCase();
          const other = folded.get(key);
          if (other !== undefined) refuse(other === name ? `the file ${JSON.stringify(name)} is in the zip twice` : `the files ${JSON.stringify(other)} and ${JSON.stringify(name)} differ only in case`);
          folded.set(key, name);
          if (rel.toLowerCase() === 'go.mod' && rel !== 'go.mod') refuse(`the entry ${JSON.stringify(name)}: go.mod must be written in lower case`);
          if (isVendoredPackage(rel)) refuse(`the entry ${JSON.stringify(name)} is a vendored package file (the go command leaves vendor/ out of module zips)`);
          if (rel.toLowerCase().endsWith('/go.mod')) refuse(`the entry ${JSON.stringify(name)} is the go.mod of a nested module (its files belong to that module)`);
          if (rel === 'go.mod' && entry.uncompressedSize > MAX_GO_MOD_BYTES) throw new PayloadTooLargeError(`invalid module zip: go.mod is over ${MAX_GO_MOD_BYTES} bytes`);
          if (rel === 'LICENSE' && entry.uncompressedSize > MAX_LICENSE_BYTES) throw new PayloadTooLargeError(`invalid module zip: LICENSE is over ${MAX_LICENSE_BYTES} bytes`);
          expanded += entry.uncompressedSize;
          if (expanded > MAX_ZIP_BYTES) throw new PayloadTooLargeError(`invalid module zip: its files expand to more than ${MAX_ZIP_BYTES} bytes`);
          entries.push(entry);
          zip.readEntry();
        } catch (error) {
          reject(error);
        }
      });
      zip.once('end', () => resolve());
      zip.once('error', (error: Error) => reject(error instanceof BadRequestError ? error : new BadRequestError(`invalid module zip: ${error.message}`)));
      zip.readEntry();
    });
    if (entries.length === 0) refuse('it holds no files');
    const empty = createHash('sha256').digest('hex');
    const files: { name: string; sha256: string }[] = directories.map((d) => ({ name: d.fileName, sha256: empty }));
    let goMod: Buffer | undefined;
    for (const entry of entries) {
      const isGoMod = entry.fileName === `${prefix}go.mod`;
      const chunks: Buffer[] = [];
      files.push({ name: entry.fileName, sha256: await entrySha256(zip, entry, isGoMod ? chunks : undefined) });
      if (isGoMod) goMod = Buffer.concat(chunks);
    }
    if (goMod !== undefined) {
      const named = goModModulePath(goMod.toString('utf8'));
      if (named === undefined) refuse('its go.mod has no module directive');
      if (named !== module) refuse(`its go.mod names the module ${JSON.stringify(named)}, not ${JSON.stringify(module)}`);
      if (version.endsWith('+incompatible')) refuse(`${version} is +incompatible, but the module has a go.mod (publish it under a /vN path instead)`);
    }
    const mod = goMod ?? Buffer.from(`module ${module}\n`);
    return { h1: hash1(files), goMod: mod, goModH1: goModHash(mod), hasGoMod: goMod !== undefined, files: files.length };
  } finally {
    zip.close();
  }
}
