import { createHash } from 'node:crypto';

/** Options to make a publish body deviate from what npm sends. */
export interface PublishBodyOptions {
  readonly integrity?: string;
  readonly shasum?: string;
  readonly attachmentName?: string;
  readonly length?: unknown;
  readonly tags?: Record<string, string>;
  /** Overrides of the version document (the JSON manifest). */
  readonly manifest?: Record<string, unknown>;
  readonly extraAttachments?: Record<string, unknown>;
}

/** The JSON body `npm publish` sends for a tarball and its manifest. */
export function publishBody(manifest: Record<string, unknown>, tarball: Buffer, options: PublishBodyOptions = {}): Record<string, unknown> {
  const name = String(manifest['name']);
  const version = String(manifest['version']);
  const integrity = options.integrity ?? `sha512-${createHash('sha512').update(tarball).digest('base64')}`;
  const shasum = options.shasum ?? createHash('sha1').update(tarball).digest('hex');
  const file = options.attachmentName ?? `${name}-${version}.tgz`;
  return {
    _id: name,
    name,
    description: manifest['description'],
    'dist-tags': options.tags ?? { latest: version },
    versions: {
      [version]: { ...manifest, ...options.manifest, _id: `${name}@${version}`, readme: 'the readme', dist: { integrity, shasum, tarball: `http://client.invalid/${name}/-/${file}` } },
    },
    access: 'public',
    _attachments: {
      [file]: { content_type: 'application/octet-stream', data: tarball.toString('base64'), length: 'length' in options ? options.length : tarball.length },
      ...options.extraAttachments,
    },
  };
}
