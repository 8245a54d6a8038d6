import { NotFoundError, assetResponse, type FormatRequestContext, type FormatResponse, type LoadedDocument, type MergeableDocument, routeParam } from '@registry-core/api';
import { loadHosted, nupkgPath, nuspecPath } from './hosted.js';
import { lowerId } from './ids.js';
import { mergeDocuments, type PackageDocument } from './package-document.js';
import { proxyFile, upstreamRegistration, upstreamVersions } from './proxy.js';
import { mergeResults, repositorySearch, type SearchQuery, type SearchResult } from './search.js';

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
    async load(ctx) {
      const lid = idOf(ctx);
      ctx.authorize('read', lid);
      const repo = ctx.repository;
      if (repo.type === 'hosted') {
        const stored = await loadHosted(repo, lid);
        return stored ? { value: stored.value, revision: `${stored.revision}` } : undefined;
      }
      if (repo.type !== 'proxy') return undefined;
      const loaded = full ? await upstreamRegistration(repo, lid) : await upstreamVersions(repo, lid);
      return loaded && Object.keys(loaded.value.versions).length > 0 ? loaded : undefined;
    },
    merge: (documents) => mergeDocuments(documents),
    render,
  };
}

export async function serveDocument<T>(ctx: FormatRequestContext, document: MergeableDocument<T>): Promise<FormatResponse> {
  const loaded = await document.load(ctx);
  if (!loaded) throw new NotFoundError(`${param(ctx, 'id') ?? 'that'} is not in ${ctx.repository.name}`);
  return document.render(ctx, loaded);
}

/** A version's .nupkg or .nuspec, from storage or (a proxy) the upstream. */
export async function packageFile(ctx: FormatRequestContext, lid: string, key: string, kind: 'nupkg' | 'nuspec'): Promise<FormatResponse> {
  ctx.authorize('read', lid);
  const repo = ctx.repository;
  if (repo.type === 'proxy') return proxyFile(ctx, repo, lid, key, kind);
  const stored = await repo.assets.get(kind === 'nupkg' ? nupkgPath(lid, key) : nuspecPath(lid, key));
  if (!stored) throw new NotFoundError(`${lid} ${key} is not in ${repo.name}`);
  return assetResponse(stored);
}

export function searchDocument(queryOf: (ctx: FormatRequestContext) => SearchQuery, render: MergeableDocument<SearchResult>['render']): MergeableDocument<SearchResult> {
  return {
    async load(ctx) {
      const result = await repositorySearch(ctx, queryOf(ctx));
      return result ? { value: result } : undefined;
    },
    merge: (results) => mergeResults(results),
    empty: () => ({ totalHits: 0, data: [] }),
    render,
  };
}

