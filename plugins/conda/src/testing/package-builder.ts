// Small but real conda packages for tests: `.conda` (a zip of metadata.json and two
// tar.zst) and `.tar.bz2` (bzip2 by the system's `bzip2`), with an info/index.json as
// conda-build writes it. Not part of the plugin's build.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { init, compress } from '@bokuweb/zstd-wasm';
import { storedZip } from '@registry-core/testing';
import tar from 'tar-stream';

export interface TarEntry {
  readonly name: string;
  readonly data?: Buffer | string;
  readonly type?: 'file' | 'symlink' | 'directory';
  readonly linkname?: string;
}

export interface CondaPackageSpec {
  readonly name: string;
  readonly version: string;
  readonly build?: string;
  readonly buildNumber?: number;
  readonly subdir?: string;
  readonly depends?: readonly string[];
  readonly format?: 'conda' | 'tar.bz2';
  /** Replaces fields of the generated info/index.json (undefined removes one). */
  readonly index?: Readonly<Record<string, unknown>>;
  /** Payload entries besides the default `share/<name>/README`. */
  readonly files?: readonly TarEntry[];
  /** The file name to write (default `<name>-<version>-<build>.<format>`). */
  readonly filename?: string;
}

export interface BuiltPackage {
  readonly path: string;
  readonly filename: string;
  readonly subdir: string;
  readonly sha256: string;
  readonly md5: string;
  readonly size: number;
}

export async function tarOf(entries: readonly TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    if (e.type === 'symlink') pack.entry({ name: e.name, type: 'symlink', linkname: e.linkname ?? '' });
    else if (e.type === 'directory') pack.entry({ name: e.name, type: 'directory' });
    else pack.entry({ name: e.name, mtime: new Date(0) }, typeof e.data === 'string' ? Buffer.from(e.data) : (e.data ?? Buffer.alloc(0)));
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

let ready: Promise<void> | undefined;
export async function zstd(data: Buffer): Promise<Buffer> {
  await (ready ??= init());
  return Buffer.from(compress(data, 3));
}

export function bzip2(data: Buffer): Buffer {
  return execFileSync('bzip2', ['-c', '-9'], { input: data, maxBuffer: 1024 ** 3 });
}

/** Build a package into `dir`; resolves where it is and its digests. */
export async function buildCondaPackage(dir: string, spec: CondaPackageSpec): Promise<BuiltPackage> {
  const { filename, subdir, bytes } = await condaPackageBytes(spec);
  const file = path.join(dir, filename);
  writeFileSync(file, bytes);
  const data = readFileSync(file);
  return { path: file, filename, subdir, sha256: createHash('sha256').update(data).digest('hex'), md5: createHash('md5').update(data).digest('hex'), size: data.length };
}

/** A package's bytes (the same spec, the same bytes) and its file name. */
export async function condaPackageBytes(spec: CondaPackageSpec): Promise<{ filename: string; subdir: string; bytes: Buffer }> {
  const subdir = spec.subdir ?? 'noarch';
  const build = spec.build ?? (subdir === 'noarch' ? 'pyh_0' : 'h1234_0');
  const format = spec.format ?? 'conda';
  const stem = `${spec.name}-${spec.version}-${build}`;
  const filename = spec.filename ?? `${stem}.${format}`;
  const index: Record<string, unknown> = {
    name: spec.name,
    version: spec.version,
    build,
    build_number: spec.buildNumber ?? 0,
    depends: spec.depends ?? [],
    license: 'MIT',
    subdir,
    timestamp: 1733400000000,
    ...(subdir === 'noarch' ? { noarch: 'generic' } : { platform: subdir.split('-')[0], arch: subdir.split('-')[1] === '64' ? 'x86_64' : subdir.split('-')[1] }),
  };
  for (const [k, v] of Object.entries(spec.index ?? {})) {
    if (v === undefined) delete index[k];
    else index[k] = v;
  }
  const info: TarEntry[] = [
    { name: 'info/index.json', data: JSON.stringify(index, null, 2) },
    { name: 'info/paths.json', data: JSON.stringify({ paths: [], paths_version: 1 }) },
  ];
  const payload: TarEntry[] = [{ name: `share/${spec.name}/README`, data: `${spec.name} ${spec.version}\n` }, ...(spec.files ?? [])];
  let bytes: Buffer;
  if (format === 'conda') {
    const stemOfFile = filename.replace(/\.conda$/, '');
    bytes = storedZip([
      ['metadata.json', Buffer.from(JSON.stringify({ conda_pkg_format_version: 2 }))],
      [`info-${stemOfFile}.tar.zst`, await zstd(await tarOf(info))],
      [`pkg-${stemOfFile}.tar.zst`, await zstd(await tarOf(payload))],
    ]);
  } else {
    bytes = bzip2(await tarOf([...info, ...payload]));
  }
  return { filename, subdir, bytes };
}
