import type { CacheStatus, HostedRepositoryHandle, ProxyRepositoryHandle } from './repository.js';
import { byKind, type FormatRequestContext, type FormatResponse } from './http.js';
// eslint-disable-next-line @typescript-eslint/no-unused-vars
import type { FormatDefinition } from './format.js';

/**
 * A document a repository loaded for a {@link MergeableDocument} route, with where it came
 * from. The kernel merges several members' documents for a group.
 */
export interface LoadedDocument<T> {
  readonly value: T;
  /** How a proxy answered (a merged document takes its members' worst: STALE, then MISS). */
  readonly cache?: CacheStatus;
  /**
   * A stable identity of `value` (a hosted document's revision, a cached file's digest), for
   * caches of what is rendered from it; a merged document has one when every part has. It
   * must cover everything `value` depends on: a member loads with the group's base URL, so
   * a revision of a document whose URLs were rewritten includes that URL.
   */
  readonly revision?: string;
}

/**
 * A route's answer as data, so a group can merge its members' answers without taking
 * rendered bodies apart: a loader per kind of repository (`hosted` reads what is stored,
 * `proxy` asks the upstream through `repository.upstream`) runs on each member with the
 * member's own permission checks, `merge` joins the documents for one name in member order,
 * `render` answers the client. The kernel picks the loader by the member's type; a kind
 * without one has no document. On a hosted or proxy repository itself, the route's handler
 * is usually {@link serveDocument}.
 */
export interface MergeableDocument<T> {
  /** A hosted repository's document; `undefined` when it has none (a 404 thrown here says why). */
  hosted?(ctx: FormatRequestContext, repository: HostedRepositoryHandle): Promise<LoadedDocument<T> | undefined>;
  /** A proxy repository's document, from its upstream; `undefined` when it has none. */
  proxy?(ctx: FormatRequestContext, repository: ProxyRepositoryHandle): Promise<LoadedDocument<T> | undefined>;
  /**
   * Members' documents, in member order, into one (never empty). A merge of large documents
   * resolves it, working in slices that yield to the event loop (`forEachYielding`).
   */
  merge(documents: readonly T[], ctx: FormatRequestContext, sources?: MergeSources): T | Promise<T>;
  /**
   * The document of a name no member has, for protocols that never answer such a request
   * with a 404 (OCI's referrers: an empty list). Absent: a 404.
   */
  empty?(ctx: FormatRequestContext): T;
  /** Answer the client with a document (for a group: the merged one, in the group's context). */
  render(ctx: FormatRequestContext, document: LoadedDocument<T>): FormatResponse | Promise<FormatResponse>;
}

/**
 * The document of `ctx`'s repository: the loader of its kind, `undefined` when it has none
 * (a group has none of its own: the kernel merges its members').
 */
export async function loadDocument<T>(document: MergeableDocument<T>, ctx: FormatRequestContext): Promise<LoadedDocument<T> | undefined> {
  const load = byKind<FormatRequestContext, Promise<LoadedDocument<T> | undefined>>(document, ctx.repository);
  return load ? load(ctx) : undefined;
}

/**
 * A route handler serving `document` on a hosted or proxy repository: loaded and rendered,
 * or `notFound(ctx)` thrown when the repository has none.
 */
export function serveDocument<T>(document: MergeableDocument<T>, notFound: (ctx: FormatRequestContext) => Error): (ctx: FormatRequestContext) => Promise<FormatResponse> {
  return async (ctx) => {
    const loaded = await loadDocument(document, ctx);
    if (!loaded) throw notFound(ctx);
    return document.render(ctx, loaded);
  };
}

/**
 * Where the documents of a merge came from (given by the kernel to
 * {@link MergeableDocument.merge} for a group), for documents that cover many package names
 * at once (a conda channel's repodata): the merge keeps each name's entries from the members
 * the group serves that name from, so that the kernel's rule holds inside one document too.
 */
export interface MergeSources {
  /** The member each document came from, in the documents' order. */
  readonly members: readonly { readonly name: string; readonly type: 'hosted' | 'proxy' }[];
  /**
   * Of the documents that hold `packageName` (their indexes in `documents`), those whose
   * entries for it the group serves: the name's owners (per version space, the first hosted
   * member holding it) when a hosted member holds it, else the proxies holding it; members
   * a `routing` claim for the name leaves out never. Ascending, possibly empty.
   */
  servedFrom(packageName: string, holders: readonly number[]): readonly number[];
}

/**
 * How a group answers one request of a route, decided by the route's `group` function. The
 * kernel owns which members are asked, the same for every format:
 *
 * - `package`: the request is about one package (an npm name, a normalized PyPI project, an
 *   OCI image, Maven's `groupId:artifactId`, written as the format indexes its components). A
 *   name belongs to the hosted members that hold it (the first in member order, per version
 *   space, see {@link FormatDefinition.versionSpace}) or that the group's `routing` claims it
 *   for; it is answered by those members only, never merged with other members' versions,
 *   and the proxies are asked only for names no hosted member holds. A write (a route whose
 *   permission is `write` or `delete`) goes to the owner, or for a new name to the first
 *   hosted member that takes it (see RepositoryPolicyError). Without `merge` the first member
 *   that answers is served; with `merge` the candidates' documents are merged.
 * - `members`: every member's document merged (listings, catalogs, search).
 * - `upstream`: the first proxy member answers (requests only an upstream can answer).
 * - `group`: the route's handler runs on the group itself (login, ping, redirects).
 */
export type GroupPlan<T = unknown> =
  | {
      readonly serve: 'package';
      readonly package: string;
      readonly merge?: MergeableDocument<T>;
      /**
       * When no hosted member holds the name and the proxies cannot be asked (an upstream
       * down, a breaker open), answer 404 (naming each failure) instead of the proxies'
       * 502: for a lookup whose "not found" costs nothing but a redundant upload (a push's
       * check for a blob, which the client then uploads), never for what a client installs.
       */
      readonly unreachableIsMissing?: boolean;
    }
  | { readonly serve: 'members'; readonly merge: MergeableDocument<T> }
  | { readonly serve: 'upstream' }
  | { readonly serve: 'group' };

/** Response header naming the member(s) that answered a group's request. */
export const MEMBER_HEADER = 'X-Registry-Member';
