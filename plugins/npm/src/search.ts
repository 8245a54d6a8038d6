import {
  BadRequestError,
  jsonResponse,
  type FormatRequestContext,
  type FormatResponse,
  type HandlersByKind,
  type HostedRepositoryHandle,
  type LoadedDocument,
  type MergeableDocument,
  type ProxyRepositoryHandle,
} from '@registry-core/api';

/** Largest `size` accepted at all; anything above is refused, not clamped (it is a client bug or an attack). */
export const MAX_SEARCH_SIZE = 10_000;
const MAX_FROM = 1_000_000;
const MAX_TEXT = 256;

/** One result of npm's search API. */
export interface SearchObject {
  package: { name: string; [field: string]: unknown };
  [field: string]: unknown;
}

/** A repository's search answer: the objects the caller may see, and how many matched. */
export interface SearchResult {
  readonly objects: readonly SearchObject[];
  readonly total: number;
}

/** The parameters of `GET /-/v1/search?text=&size=&from=`, checked. */
export interface SearchQuery {
  readonly text: string;
  readonly size: number;
  readonly from: number;
}

/**
 * Read the search parameters: `size` defaults to 20 and must be an integer from 0 to
 * 10000 (400 otherwise), then is capped at the repository's `maxSearchResults`; `from`
 * must be a non-negative integer; `text` is cut at 256 characters.
 */
export function parseSearchQuery(query: URLSearchParams, maxResults: number): SearchQuery {
  const text = (query.get('text') ?? '').slice(0, MAX_TEXT);
  const sizeParam = query.get('size') ?? '20';
  const fromParam = query.get('from') ?? '0';
  if (!/^\d{1,5}$/.test(sizeParam) || Number(sizeParam) > MAX_SEARCH_SIZE) {
    throw new BadRequestError(`size must be an integer from 0 to ${MAX_SEARCH_SIZE} (answers hold at most ${maxResults})`);
  }
  if (!/^\d{1,7}$/.test(fromParam) || Number(fromParam) > MAX_FROM) throw new BadRequestError(`from must be an integer from 0 to ${MAX_FROM}`);
  return { text, size: Math.min(Number(sizeParam), maxResults), from: Number(fromParam) };
}

function answer(objects: readonly unknown[], total: number): FormatResponse {
  return jsonResponse({ objects, total, time: new Date().toUTCString() }, { cachePolicy: 'no-store' });
}

/**
 * Leave out the names the caller may not read (`auth.permissions` rules naming packages):
 * a search never reveals what a direct request would refuse. The total drops by as many.
 */
function readable(ctx: FormatRequestContext, objects: readonly unknown[], total: number): SearchResult {
  const visible = objects.filter((o): o is SearchObject => {
    const name = (o as SearchObject | undefined)?.package?.name;
    return typeof name === 'string' && ctx.allowed('read', name);
  });
  return { objects: visible, total: Math.max(visible.length, total - (objects.length - visible.length)) };
}

/**
 * Merge members' search answers in member order: the first member listing a name wins.
 * `from` was applied by each member, so the merge only cuts at `size`.
 */
export function mergeSearchObjects(answers: readonly unknown[], size: number): { objects: SearchObject[]; total: number } {
  const seen = new Set<string>();
  const objects: SearchObject[] = [];
  for (const value of answers) {
    const list = (value as { objects?: unknown } | undefined)?.objects;
    if (!Array.isArray(list)) continue;
    for (const object of list as SearchObject[]) {
      const name = object?.package?.name;
      if (typeof name === 'string' && !seen.has(name)) {
        seen.add(name);
        objects.push(object);
      }
    }
  }
  return { objects: objects.slice(0, size), total: objects.length };
}

function isPublisher(value: unknown): value is { username: string; email?: string } {
  return !!value && typeof value === 'object' && typeof (value as { username?: unknown }).username === 'string';
}

const EMPTY: LoadedDocument<SearchResult> = { value: { objects: [], total: 0 } };

/**
 * A proxy's answer: its upstream's (an upstream without search, or failing, is an empty
 * result, as npm expects of a registry). Never undefined, so a group's search always has an
 * answer to merge.
 */
async function upstreamSearch(ctx: FormatRequestContext, repo: ProxyRepositoryHandle): Promise<LoadedDocument<SearchResult>> {
  const { text, size, from } = parseSearchQuery(ctx.query, repo.limits.maxSearchResults);
  try {
    const answered = await repo.upstream.passthrough({
      method: 'GET',
      upstreamUrl: `-/v1/search?${new URLSearchParams({ text, size: String(size), from: String(from) })}`,
      headers: { accept: 'application/json' },
      maxBytes: 8 * 1024 * 1024,
    });
    if (answered.status !== 200) return EMPTY;
    const parsed = JSON.parse(answered.body.toString('utf8')) as { objects?: unknown; total?: unknown };
    if (!Array.isArray(parsed.objects)) return EMPTY;
    const objects = parsed.objects.slice(0, size);
    return { value: readable(ctx, objects, typeof parsed.total === 'number' ? parsed.total : objects.length) };
  } catch (error) {
    ctx.logger.warn('upstream search failed; answering an empty result', { error: (error as Error).message });
    return EMPTY;
  }
}

/** A hosted repository's answer: its components matching the query. */
async function hostedSearch(ctx: FormatRequestContext, repo: HostedRepositoryHandle): Promise<LoadedDocument<SearchResult>> {
  const { text, size, from } = parseSearchQuery(ctx.query, repo.limits.maxSearchResults);
  const result = await repo.components.search({ text, offset: from, limit: size });
  const objects = await Promise.all(result.items.map(async (c) => ({
    package: {
      name: c.name,
      version: c.version,
      description: typeof c.attributes['description'] === 'string' ? c.attributes['description'] : '',
      keywords: Array.isArray(c.attributes['keywords']) ? c.attributes['keywords'] : [],
      date: c.updatedAt.toISOString(),
      links: {},
      // Who published this version, and the name's owners (`npm search` shows them as "by").
      publisher: isPublisher(c.attributes['publisher']) ? c.attributes['publisher'] : {},
      maintainers: (await ctx.owners.list(c.name)).map((o) => ({ username: o.name, ...(o.email ? { email: o.email } : {}) })),
    },
    score: { final: 1, detail: { quality: 1, popularity: 1, maintenance: 1 } },
    searchScore: 1,
  })));
  return { value: readable(ctx, objects, result.total) };
}

/**
 * `GET /-/v1/search`, mergeable: each member answers as above (with its own read rules),
 * a group merges its members' answers in member order (the first listing a name wins) and
 * leaves out what its own rules hide.
 */
export const searchDocument: MergeableDocument<SearchResult> = {
  hosted: hostedSearch,
  proxy: upstreamSearch,
  merge: (results, ctx) => mergeSearchObjects(results, parseSearchQuery(ctx.query, ctx.repository.limits.maxSearchResults).size),
  render(ctx, { value }) {
    const visible = readable(ctx, value.objects, value.total);
    return answer(visible.objects, visible.total);
  },
};

/** `GET /-/v1/search` on a hosted or proxy repository. */
export const search: HandlersByKind = {
  hosted: async (ctx, repo) => searchDocument.render(ctx, await hostedSearch(ctx, repo)),
  proxy: async (ctx, repo) => searchDocument.render(ctx, await upstreamSearch(ctx, repo)),
};
