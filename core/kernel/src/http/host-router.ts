import type { Context, Middleware } from 'koa';
import { PathRoutes, type RouteParams } from './path-routes.js';

/** A handler of one of the host's own routes. */
export type HostRouteHandler = (ctx: Context, params: RouteParams) => unknown;

/**
 * The host's own routes (health, stats, the admin API, the mount points of repositories)
 * as koa middleware, matched with the same {@link PathRoutes} as formats' routes against
 * koa's still-encoded `ctx.path`. A path no route takes goes on to the next middleware.
 */
export class HostRouter {
  private readonly routes = new PathRoutes<HostRouteHandler>();

  /** GET (and HEAD). */
  get(pattern: string, handler: HostRouteHandler): this {
    this.routes.add(['GET'], pattern, handler);
    return this;
  }

  put(pattern: string, handler: HostRouteHandler): this {
    this.routes.add(['PUT'], pattern, handler);
    return this;
  }

  post(pattern: string, handler: HostRouteHandler): this {
    this.routes.add(['POST'], pattern, handler);
    return this;
  }

  delete(pattern: string, handler: HostRouteHandler): this {
    this.routes.add(['DELETE'], pattern, handler);
    return this;
  }

  /** Every method. */
  all(pattern: string, handler: HostRouteHandler): this {
    this.routes.add(undefined, pattern, handler);
    return this;
  }

  middleware(): Middleware {
    return async (ctx, next) => {
      const found = this.routes.find(ctx.method, ctx.path);
      if (found === undefined || found === 'methodNotAllowed') return next();
      await found.value(ctx, found.params);
    };
  }
}
