import { match, type MatchFunction } from 'path-to-regexp';

/** The parameters a matched path pattern captured (`{*rest}` captures a list of segments). */
export type RouteParams = Record<string, string | string[] | undefined>;

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * The kernel's one route matcher (path-to-regexp v8 patterns): an ordered list of
 * (methods, pattern, value); the first entry whose method and path match wins. HEAD is
 * matched by GET entries; an entry without methods matches any method. Both the host's
 * own routes and each format's routes are matched with it.
 */
export class PathRoutes<T> {
  private readonly entries: Array<{ value: T; methods: ReadonlySet<string> | undefined; match: MatchFunction<RouteParams> }> = [];

  /** Add a route; `methods` undefined for every method. */
  add(methods: readonly string[] | undefined, pattern: string, value: T): this {
    this.entries.push({ value, methods: methods ? new Set(methods) : undefined, match: match<RouteParams>(pattern, { decode: safeDecode }) });
    return this;
  }

  /** The first entry whose path and method match; `methodNotAllowed` when only a path does. */
  find(method: string, path: string): { value: T; params: RouteParams } | 'methodNotAllowed' | undefined {
    const m = method === 'HEAD' ? 'GET' : method;
    let pathMatched = false;
    for (const entry of this.entries) {
      const result = entry.match(path);
      if (!result) continue;
      pathMatched = true;
      if (entry.methods && !entry.methods.has(m)) continue;
      return { value: entry.value, params: result.params };
    }
    return pathMatched ? 'methodNotAllowed' : undefined;
  }
}
