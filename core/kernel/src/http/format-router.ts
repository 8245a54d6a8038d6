import { match, type MatchFunction } from 'path-to-regexp';
import type { HttpMethod, RouteDefinition } from '@registry-core/api';

/** A route matched for a request. */
export interface MatchedRoute {
  readonly route: RouteDefinition;
  readonly params: Record<string, string | string[] | undefined>;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * Matches a format's routes (path-to-regexp v8, the syntax of @koa/router) against a path
 * inside a repository. The same matcher serves client requests and group sub-requests,
 * which never pass through koa. HEAD is matched by GET routes.
 */
export class FormatRouter {
  private readonly compiled: Array<{ route: RouteDefinition; methods: Set<string>; match: MatchFunction<Record<string, string | string[]>> }>;

  constructor(routes: readonly RouteDefinition[]) {
    this.compiled = routes.map((route) => {
      const methods = new Set<string>(typeof route.method === 'string' ? [route.method] : (route.method as readonly HttpMethod[]));
      return { route, methods, match: match<Record<string, string | string[]>>(route.path, { decode: safeDecode }) };
    });
  }

  /** The first route whose path and method match; `methodNotAllowed` when only the path does. */
  find(method: string, path: string): MatchedRoute | 'methodNotAllowed' | undefined {
    const m = method === 'HEAD' ? 'GET' : method;
    let pathMatched = false;
    for (const entry of this.compiled) {
      const result = entry.match(path);
      if (!result) continue;
      pathMatched = true;
      if (!entry.methods.has(m)) continue;
      return { route: entry.route, params: result.params };
    }
    return pathMatched ? 'methodNotAllowed' : undefined;
  }
}
