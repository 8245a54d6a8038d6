import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

/** One tar entry for a hand-made (possibly hostile) package tarball. */
export interface TarEntry {
  readonly name: string;
  readonly type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device';
  readonly content?: string | Buffer;
  readonly linkname?: string;
}

/** Build a gzip tarball from entries, exactly as given (no path cleaning). */
export async function makeTarball(entries: readonly TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
  const done = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const e of entries) {
    const content = e.content === undefined ? undefined : Buffer.from(e.content);
    await new Promise<void>((resolve, reject) =>
      pack.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname, size: content?.length ?? 0 }, content ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve())),
    );
  }
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

/** The JSON body `npm publish` sends, for a tarball and a manifest (both may be made to disagree). */
export function publishBody(manifest: Record<string, unknown>, tarball: Buffer, options: { integrity?: string; shasum?: string; attachmentName?: string } = {}): string {
  const name = String(manifest['name']);
  const version = String(manifest['version']);
  const integrity = options.integrity ?? `sha512-${createHash('sha512').update(tarball).digest('base64')}`;
  const shasum = options.shasum ?? createHash('sha1').update(tarball).digest('hex');
  const file = options.attachmentName ?? `${name}-${version}.tgz`;
  return JSON.stringify({
    _id: name,
    name,
    'dist-tags': { latest: version },
    versions: { [version]: { ...manifest, _id: `${name}@${version}`, dist: { integrity, shasum, tarball: `http://example.invalid/${name}/-/${file}` } } },
    access: 'public',
    _attachments: { [file]: { content_type: 'application/octet-stream', data: tarball.toString('base64'), length: tarball.length } },
  });
}

/** A well-formed tarball for `manifest`. */
export function packageTarball(manifest: Record<string, unknown>, extra: readonly TarEntry[] = []): Promise<Buffer> {
  return makeTarball([{ name: 'package/package.json', content: JSON.stringify(manifest) }, { name: 'package/index.js', content: 'module.exports = 1;\n' }, ...extra]);
}

/** PUT a package version made from `manifest` to `<registryUrl>/<repository>/`; resolves the status. */
export async function publishPackage(registryUrl: string, repository: string, token: string, manifest: Record<string, unknown>): Promise<number> {
  const put = await fetch(`${registryUrl}/${repository}/${manifest['name']}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: publishBody(manifest, await packageTarball(manifest)),
  });
  await put.arrayBuffer();
  return put.status;
}
