import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

/** One entry of a test .crate: a file, or another kind of entry a hostile crate may hold. */
export interface CrateEntry {
  readonly name: string;
  readonly content?: Buffer | string;
  readonly type?: 'file' | 'symlink' | 'directory';
  readonly linkname?: string;
}

/** A gzipped tar of `entries`, byte for byte the same for the same entries (and `level`). */
export async function tarGz(entries: readonly CrateEntry[], level?: number): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    const content = type === 'file' ? Buffer.from(entry.content ?? '') : undefined;
    await new Promise<void>((resolve, reject) => {
      const header = { name: entry.name, type, mtime: new Date(0), mode: type === 'directory' ? 0o755 : 0o644, ...(entry.linkname ? { linkname: entry.linkname } : {}), ...(content ? { size: content.length } : {}) };
      if (content) pack.entry(header, content, (error) => (error ? reject(error) : resolve()));
      else pack.entry(header, (error) => (error ? reject(error) : resolve()));
    });
  }
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks), level === undefined ? {} : { level });
}

/** A minimal .crate as `cargo package` makes it: `<name>-<version>/Cargo.toml` and a source file. */
export function crateFile(name: string, version: string, content: Buffer | string = '', manifest?: { name?: string; version?: string }): Promise<Buffer> {
  const root = `${name}-${version}`;
  const toml = `[package]\nedition = "2021"\nname = "${manifest?.name ?? name}"\nversion = "${manifest?.version ?? version}"\n`;
  return tarGz([
    { name: `${root}/Cargo.toml`, content: toml },
    { name: `${root}/src/lib.rs`, content: Buffer.concat([Buffer.from('// '), Buffer.from(content), Buffer.from('\n')]) },
  ]);
}

/** The JSON `cargo publish` sends for a crate with no dependencies (or `deps`). */
export function publishJson(name: string, vers: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, vers, deps: [], features: {}, authors: [], description: `${name} for tests`, keywords: [], categories: [], license: 'MIT', links: null, ...extra };
}

/** A `cargo publish` body: u32 LE length ‖ JSON ‖ u32 LE length ‖ .crate, lengths overridable to lie. */
export function publishBody(json: unknown, crate: Buffer, lie: { jsonLength?: number; crateLength?: number } = {}): Buffer {
  const meta = Buffer.from(JSON.stringify(json));
  const a = Buffer.alloc(4);
  a.writeUInt32LE(lie.jsonLength ?? meta.length);
  const b = Buffer.alloc(4);
  b.writeUInt32LE(lie.crateLength ?? crate.length);
  return Buffer.concat([a, meta, b, crate]);
}
