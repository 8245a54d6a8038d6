import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

/** One entry of a hand-made (possibly hostile) tarball. */
export interface TarEntry {
  readonly name: string;
  readonly type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  readonly content?: string | Buffer;
  readonly linkname?: string;
}

/** A gzip tarball of exactly these entries (tar-stream does not clean paths); the same entries, the same bytes. */
export async function makeTgz(entries: readonly TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const e of entries) {
    const content = e.content === undefined ? Buffer.alloc(0) : Buffer.from(e.content);
    await new Promise<void>((resolve, reject) =>
      pack.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname, mtime: new Date(0), size: e.type && e.type !== 'file' ? 0 : content.length }, e.type && e.type !== 'file' ? Buffer.alloc(0) : content, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  }
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

/** A well-formed package tarball for `manifest`, plus any extra entries. */
export function packageTgz(manifest: Record<string, unknown>, extra: readonly TarEntry[] = []): Promise<Buffer> {
  return makeTgz([{ name: 'package/package.json', content: JSON.stringify(manifest) }, { name: 'package/index.js', content: 'module.exports = 1;\n' }, ...extra]);
}
