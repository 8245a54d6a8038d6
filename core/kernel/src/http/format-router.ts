import type { HttpMethod, RouteDefinition } from '@registry-core/api';
import { PathRoutes, type RouteParams } from './path-routes.js';

/** A route matched for a request. */
export interface MatchedRoute {
  readonly route: RouteDefinition;
  readonly params: RouteParams;
}

/**
 * Matches a format's routes against a path inside a repository. The same matcher serves
 * client requests and group sub-requests, which never pass through koa. HEAD is matched
 * by GET routes.
 */
export class FormatRouter {
  private readonly routes = new PathRoutes<RouteDefinition>();

  constructor(routes: readonly RouteDefinition[]) {
    for (const route of routes) this.routes.add(typeof route.method === 'string' ? [route.method] : (route.method as readonly HttpMethod[]), route.path, route);
  }

  /** The first route whose path and method match; `methodNotAllowed` when only the path does. */
  find(method: string, path: string): MatchedRoute | 'methodNotAllowed' | undefined {
    const found = this.routes.find(method, path);
    if (found === undefined || found === 'methodNotAllowed') return found;
    return { route: found.value, params: found.params };
  }
}
