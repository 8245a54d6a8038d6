import { NotFoundError, assetResponse, serveDocument, type FormatRequestContext, type FormatResponse, type HandlersByKind, type LoadedDocument, type MergeableDocument, routeParam } from '@registry-core/api';
import { loadHosted, nupkgPath, nuspecPath } from './hosted.js';
import { lowerId } from './ids.js';
import { mergeDocuments, type PackageDocument } from './package-document.js';
import { proxyFile, upstreamRegistration, upstreamVersions } from './proxy.js';
import { hostedSearch, mergeResults, proxySearch, type SearchQuery, type SearchResult } from './search.js';

// What the v3 resources and the v2 feed both read: a package's document, its files, a search.

export const param = routeParam;
/** The lower-cased id a request's `:id` names (validated). */
export const requestedId = (ctx: FormatRequestContext) => lowerId(param(ctx, 'id') ?? '');

/**
 * A package's document as one repository has it, mergeable across a group's members. `full`:
 * a registration (a proxy reads the upstream's); otherwise the flat container's version list.
 */
export function packageDocument(
  full: boolean,
  render: (ctx: FormatRequestContext, document: LoadedDocument<PackageDocument>) => FormatResponse,
  idOf: (ctx: FormatRequestContext) => string = requestedId,
): MergeableDocument<PackageDocument> {
  return {
    async hosted(ctx, repo) {
      const lid = idOf(ctx);
      ctx.authorize('read', lid);
      const stored = await loadHosted(repo, lid);
      return stored ? { value: stored.value, revision: `${stored.revision}` } : undefined;
    },
    async proxy(ctx, repo) {
      const lid = idOf(ctx);
      ctx.authorize('read', lid);
      const loaded = full ? await upstreamRegistration(repo, lid) : await upstreamVersions(repo, lid);
      return loaded && Object.keys(loaded.value.versions).length > 0 ? loaded : undefined;
    },
    merge: (documents) => mergeDocuments(documents),
    render,
  };
}

/** Serve a document on a hosted or proxy repository, or 404 naming the package. */
export function serve<T>(document: MergeableDocument<T>): (ctx: FormatRequestContext) => Promise<FormatResponse> {
  return serveDocument(document, (ctx) => new NotFoundError(`${param(ctx, 'id') ?? 'that'} is not in ${ctx.repository.name}`));
}

/** The file a request names: a package id (lower-cased), a version key, which file. */
export interface PackageFileRequest {
  readonly lid: string;
  readonly key: string;
  readonly kind: 'nupkg' | 'nuspec';
}

/** A version's .nupkg or .nuspec, from storage or (a proxy) the upstream, once the caller may read the package. */
export function packageFile(fileOf: (ctx: FormatRequestContext) => PackageFileRequest): HandlersByKind {
  const readable = (ctx: FormatRequestContext) => {
    const file = fileOf(ctx);
    ctx.authorize('read', file.lid);
    return file;
  };
  return {
    async hosted(ctx, repo) {
      const { lid, key, kind } = readable(ctx);
      const stored = await repo.assets.get(kind === 'nupkg' ? nupkgPath(lid, key) : nuspecPath(lid, key));
      if (!stored) throw new NotFoundError(`${lid} ${key} is not in ${repo.name}`);
      return assetResponse(stored);
    },
    async proxy(ctx, repo) {
      const { lid, key, kind } = readable(ctx);
      return proxyFile(ctx, repo, lid, key, kind);
    },
  };
}

export function searchDocument(queryOf: (ctx: FormatRequestContext) => SearchQuery, render: MergeableDocument<SearchResult>['render']): MergeableDocument<SearchResult> {
  return {
    hosted: async (ctx, repo) => ({ value: await hostedSearch(ctx, repo, queryOf(ctx)) }),
    async proxy(ctx, repo) {
      const result = await proxySearch(ctx, repo, queryOf(ctx));
      return result ? { value: result } : undefined;
    },
    merge: (results) => mergeResults(results),
    empty: () => ({ totalHits: 0, data: [] }),
    render,
  };
}

