import { NotFoundError, type FormatRequestContext, type LoadedDocument, type MergeableDocument } from '@registry-core/api';
import { hostedListing, hostedMetadata, metadataPackage } from './hosted.js';
import { listStored, mergeListings, renderListing, sortListing, type ListingEntry } from './listing.js';
import { mergeMetadata, renderMetadata, type MavenMetadata } from './metadata.js';
import { parseMavenPath, type DirectoryPath, type MetadataPath } from './paths.js';
import { loadProxyMetadata } from './proxy.js';
import { checksumResponse, digestOf, xmlResponse } from './responses.js';


type Target = MetadataPath | DirectoryPath;

function targetOf<K extends Target['kind']>(ctx: FormatRequestContext, kind: K): Extract<Target, { kind: K }> {
  const target = parseMavenPath(ctx.path);
  if (target.kind !== kind) throw new NotFoundError(`${ctx.path} is not in ${ctx.repository.name}`);
  return target as Extract<Target, { kind: K }>;
}

/** The metadata a request names, once the caller may read it (version lists are read rules' business as much as the files are). */
export function readableMetadata(ctx: FormatRequestContext): MetadataPath {
  const target = targetOf(ctx, 'metadata');
  ctx.authorize('read', metadataPackage(target.directory));
  return target;
}

/**
 * A folder's `maven-metadata.xml` (artifact, SNAPSHOT version or plugin prefixes) as data:
 * a hosted repository's rebuilt from what was deployed, a proxy's parsed from its upstream;
 * several merged by {@link mergeMetadata}. It is rendered (and its checksums computed) from
 * the merged document, never taken from a member's bytes.
 */
export const metadataDocument: MergeableDocument<MavenMetadata> = {
  async hosted(ctx, repo) {
    const target = readableMetadata(ctx);
    const metadata = await hostedMetadata(repo, target.directory);
    return metadata ? { value: metadata } : undefined;
  },
  proxy: (ctx, repo) => loadProxyMetadata(ctx, repo.upstream, readableMetadata(ctx)),
  merge: (documents) => mergeMetadata(documents),
  render(ctx, { value, cache }) {
    const target = targetOf(ctx, 'metadata');
    const xml = renderMetadata(value);
    const response = target.checksum ? checksumResponse(digestOf(xml, target.checksum)) : xmlResponse(xml);
    return cache ? { ...response, cache } : response;
  },
};

/** A folder's entries as `list` finds them; a folder with nothing in it is not there, the root always is. */
async function folder(ctx: FormatRequestContext, list: (target: DirectoryPath) => Promise<ListingEntry[]>): Promise<LoadedDocument<ListingEntry[]> | undefined> {
  const target = targetOf(ctx, 'directory');
  const entries = await list(target);
  return entries.length > 0 || target.segments.length === 0 ? { value: entries } : undefined;
}

/**
 * A folder's entries for people who browse: a hosted repository's files (and the metadata it
 * builds), a proxy's cached files; several united by name. A folder with nothing in it is
 * not there; the root always is.
 */
export const listingDocument: MergeableDocument<ListingEntry[]> = {
  hosted: async (ctx, repo) => folder(ctx, (target) => hostedListing(repo, target.segments)),
  // A proxy lists what it has cached.
  proxy: async (ctx, repo) => folder(ctx, (target) => listStored(repo.assets, target.path)),
  merge: (lists) => mergeListings(lists),
  render(ctx, { value }) {
    const target = targetOf(ctx, 'directory');
    const html = renderListing(`${ctx.repository.name}/${target.path}`, sortListing([...value]), target.segments.length === 0);
    return { body: { kind: 'text', value: html, contentType: 'text/html; charset=utf-8' }, cachePolicy: 'no-store' };
  },
};
