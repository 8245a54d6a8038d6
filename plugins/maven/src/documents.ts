import { NotFoundError, renderedResponse, type FormatRequestContext, type LoadedDocument, type MergeableDocument } from '@registry-core/api';
import { hostedListing, hostedMetadataDocument, metadataPackage } from './hosted.js';
import { listStored, mergeListings, renderListing, sortListing, type ListingEntry } from './listing.js';
import { mergeMetadata, renderMetadata, type MavenMetadata } from './metadata.js';
import { parseMavenPath, type DirectoryPath, type MetadataPath } from './paths.js';
import { loadProxyMetadata } from './proxy.js';
import { CHECKSUM_TYPE, XML_TYPE, digestOf } from './responses.js';


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
 * the merged document, never taken from a member's bytes: once per revision of the document
 * (a group's names its members') and variant (the XML, each checksum), kept in the kernel's
 * derived memory and served from there with its ETag (304 on a match).
 */
export const metadataDocument: MergeableDocument<MavenMetadata> = {
  async hosted(ctx, repo) {
    const target = readableMetadata(ctx);
    return hostedMetadataDocument(repo, target.directory);
  },
  proxy: (ctx, repo) => loadProxyMetadata(ctx, repo.upstream, readableMetadata(ctx), repo.derived),
  merge: (documents) => mergeMetadata(documents),
  async render(ctx, { value, cache, revision }) {
    const target = targetOf(ctx, 'metadata');
    const variant = target.checksum ?? 'xml';
    const produce = () => (target.checksum ? digestOf(renderMetadata(value), target.checksum) : renderMetadata(value));
    // One rendering per folder and variant: a newer revision's replaces the older one's.
    const rendered = await ctx.repository.derived.renderText(revision === undefined ? undefined : `maven:metadata\u0000${revision}\u0000${variant}`, produce, `maven:metadata\u0000${target.directory.join('/')}\u0000${variant}`);
    return renderedResponse(rendered, { contentType: target.checksum ? CHECKSUM_TYPE : XML_TYPE, cachePolicy: 'metadata', ...(cache ? { cache } : {}) });
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
