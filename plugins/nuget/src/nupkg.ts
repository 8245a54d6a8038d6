import { PassThrough, type Readable } from 'node:stream';
import { BadRequestError, child, childText, children, parseXml, readSmallBody, type Asset, type XmlElement } from '@registry-core/api';
import yauzl from 'yauzl';
import { validateId } from './ids.js';
import { validateVersion, type NuGetVersion } from './versions.js';

/** Largest .nuspec read from a package. */
const MAX_NUSPEC_BYTES = 1024 * 1024;
/** Most entries a package may hold. */
const MAX_ENTRIES = 100_000;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

function refuse(why: string): never {
  throw new BadRequestError(`Invalid package: ${why}.`);
}

/** A dependency group of a .nuspec, as registrations show it. */
export interface DependencyGroup {
  readonly targetFramework?: string;
  readonly dependencies: readonly { readonly id: string; readonly range: string }[];
}

/** What a package's manifest says about it that feeds show (a .nuspec's, or an upstream catalog entry's). */
export interface PackageDescription {
  readonly description?: string;
  readonly authors?: string;
  readonly title?: string;
  readonly summary?: string;
  readonly tags?: string;
  readonly projectUrl?: string;
  readonly licenseUrl?: string;
  readonly iconUrl?: string;
  readonly requireLicenseAcceptance?: boolean;
  readonly dependencyGroups?: readonly DependencyGroup[];
}

/** A .nuspec: its id and version, and the description. */
export interface Nuspec extends PackageDescription {
  readonly id: string;
  readonly version: NuGetVersion;
  readonly description: string;
  readonly authors: string;
  readonly dependencyGroups: readonly DependencyGroup[];
}

/**
 * Read the `.nuspec` at the root of a .nupkg on disk: every entry is checked from the zip's
 * central directory first (no `..`, absolute, backslash or link entries), and exactly one
 * root `.nuspec` must exist. Its bytes and what it says are resolved.
 */
export async function readNuspec(file: string): Promise<{ readonly bytes: Buffer; readonly nuspec: Nuspec }> {
  let zip: yauzl.ZipFile;
  try {
    zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
      yauzl.open(file, { lazyEntries: true, autoClose: false, decodeStrings: true, validateEntrySizes: true, strictFileNames: true }, (error, opened) => (error ? reject(error) : resolve(opened))),
    );
  } catch (error) {
    refuse(`not a zip file (${(error as Error).message})`);
  }
  try {
    if (zip.entryCount > MAX_ENTRIES) refuse(`more than ${MAX_ENTRIES} entries`);
    const nuspecs: yauzl.Entry[] = [];
    await new Promise<void>((resolve, reject) => {
      zip.on('error', (error: Error) => reject(new BadRequestError(`Invalid package: ${error.message}.`)));
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        try {
          const name = entry.fileName;
          if (name === '' || name.includes('\0') || name.includes('\\') || name.startsWith('/') || /^[A-Za-z]:/.test(name) || name.split('/').includes('..')) {
            refuse(`the entry ${JSON.stringify(name)} has an unsafe path`);
          }
          if (((entry.externalFileAttributes >>> 16) & S_IFMT) === S_IFLNK) refuse(`the entry ${JSON.stringify(name)} is a symbolic link`);
          if (!name.includes('/') && name.toLowerCase().endsWith('.nuspec')) nuspecs.push(entry);
          zip.readEntry();
        } catch (error) {
          reject(error);
        }
      });
      zip.readEntry();
    });
    if (nuspecs.length !== 1) refuse(nuspecs.length === 0 ? 'no .nuspec at the root of the package' : 'more than one .nuspec at the root of the package');
    const entry = nuspecs[0]!;
    if (entry.uncompressedSize > MAX_NUSPEC_BYTES) refuse(`the .nuspec is larger than ${MAX_NUSPEC_BYTES} bytes`);
    const stream = await new Promise<Readable>((resolve, reject) => zip.openReadStream(entry, (error, opened) => (error ? reject(new BadRequestError(`Invalid package: ${error.message}.`)) : resolve(opened))));
    const chunks: Buffer[] = [];
    for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
    const bytes = Buffer.concat(chunks);
    return { bytes, nuspec: parseNuspec(bytes.toString('utf8')) };
  } finally {
    zip.close();
  }
}

/** What a .nuspec says: id and version checked, the fields feeds show. */
export function parseNuspec(text: string): Nuspec {
  let root: XmlElement;
  try {
    root = parseXml(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    refuse(`the .nuspec is not well-formed XML (${(error as Error).message})`);
  }
  const metadata = child(root, 'metadata');
  if (root.name !== 'package' || !metadata) refuse('the .nuspec has no <package><metadata>');
  const rawId = childText(metadata, 'id');
  const rawVersion = childText(metadata, 'version');
  if (!rawId || !rawVersion) refuse('the .nuspec lacks <id> or <version>');
  const id = validateId(rawId);
  const version = validateVersion(rawVersion);
  const optional = (name: string) => {
    const value = childText(metadata, name);
    return value ? { [name]: value } : {};
  };
  const dependency = (d: XmlElement) => ({ id: validateId(d.attributes['id']), range: d.attributes['version'] ?? '' });
  const dependencies = child(metadata, 'dependencies');
  const grouped = children(dependencies, 'group');
  const dependencyGroups: DependencyGroup[] = grouped.length
    ? grouped.map((g) => ({ ...(g.attributes['targetFramework'] ? { targetFramework: g.attributes['targetFramework'] } : {}), dependencies: children(g, 'dependency').map(dependency) }))
    : children(dependencies, 'dependency').length
      ? [{ dependencies: children(dependencies, 'dependency').map(dependency) }]
      : [];
  return {
    id,
    version,
    description: childText(metadata, 'description') ?? '',
    authors: childText(metadata, 'authors') ?? '',
    ...optional('title'),
    ...optional('summary'),
    ...optional('tags'),
    ...optional('projectUrl'),
    ...optional('licenseUrl'),
    ...optional('iconUrl'),
    requireLicenseAcceptance: childText(metadata, 'requireLicenseAcceptance') === 'true',
    dependencyGroups,
  };
}

/** A stored asset as yauzl's random-access source: each range it asks for is one ranged read of the asset. */
class AssetReader extends yauzl.RandomAccessReader {
  constructor(private readonly asset: Asset) {
    super();
  }

  override _readStreamForRange(start: number, end: number): Readable {
    const out = new PassThrough();
    // yauzl's end is exclusive, the asset's inclusive.
    this.asset.open({ start, end: end - 1 }).then(
      (stream) => stream.on('error', (error) => out.destroy(error)).pipe(out),
      (error: Error) => out.destroy(error),
    );
    return out;
  }
}

/**
 * One member of a stored .nupkg (its README, say), read by ranged reads of the asset: the
 * central directory, then that member's bytes, never the whole package. `undefined` when it
 * is not there, is larger than `maxBytes` or the package cannot be read as a zip. `member`
 * is matched as NuGet does, case-insensitively and with `\` taken as `/`.
 */
export async function readStoredMember(asset: Asset, member: string, maxBytes: number): Promise<Buffer | undefined> {
  const wanted = member.replace(/\\/g, '/').replace(/^\.?\//, '').toLowerCase();
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.fromRandomAccessReaderPromise(new AssetReader(asset), asset.size, { lazyEntries: true, autoClose: false, decodeStrings: true, validateEntrySizes: true });
  } catch {
    return undefined;
  }
  try {
    if (zip.entryCount > MAX_ENTRIES) return undefined;
    const entry = await new Promise<yauzl.Entry | undefined>((resolve, reject) => {
      zip.on('error', reject);
      zip.on('end', () => resolve(undefined));
      zip.on('entry', (e: yauzl.Entry) => (e.fileName.toLowerCase() === wanted ? resolve(e) : zip.readEntry()));
      zip.readEntry();
    });
    if (!entry || entry.uncompressedSize > maxBytes) return undefined;
    // Over the limit (whatever the directory said): refused, and so left out.
    return await readSmallBody(await zip.openReadStreamPromise(entry), maxBytes, member);
  } catch {
    return undefined;
  } finally {
    zip.close();
  }
}
