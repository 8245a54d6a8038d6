import type { Context } from 'koa';
import { BadRequestError, ForbiddenError, NotFoundError, UnauthorizedError, isRegistryError, type Logger, type Principal } from '@registry-core/api';
import type { Authentication } from '../auth/authentication.js';
import type { HostRouter } from '../http/host-router.js';
import type { DownloadQueries } from './download-queries.js';
import type { RegistryMetrics } from './metrics.js';
import { sinceDay, statsReport, withMembers, type StatsRepository } from './stats-report.js';

export interface StatsApiOptions {
  readonly queries: DownloadQueries;
  readonly authentication: Authentication;
  /** Whether `principal` may do `permission` on a repository (`admin` on the registry: `the admin API`). */
  readonly allowed: (principal: Principal, permission: 'read' | 'admin', repository: string) => boolean;
  readonly repositories: ReadonlyMap<string, StatsRepository>;
  readonly logger: Logger;
  /** `/-/metrics` (Prometheus text): for administrators unless `open`; absent: not served. */
  readonly metrics?: { readonly registry: RegistryMetrics; readonly open: boolean };
}

const MAX_LIMIT = 1000;

/**
 * The download analytics API, JSON under `/-/api/stats/`:
 *
 * - `GET /-/api/stats?since=&format=&repository=&top=`: the {@link StatsReport}
 * - `GET /-/api/stats/top?since=&format=&repository=&limit=`: `{ since, packages: TopPackage[] }`
 * - `GET /-/api/stats/package?name=&format=&repository=&since=`: {@link PackageStats} (404 when never downloaded in the window)
 * - `GET /-/api/stats/recent?repository=&limit=`: `{ files: StoredFile[] }`, newest stored first
 * - `GET /-/api/stats/unused?days=&repository=&limit=`: `{ days, files: StoredFile[] }`, never downloaded, older than `days` (default 90)
 *
 * Administrators may ask about everything; other callers (anonymous included) only with
 * `repository=` naming one they may read. A group stands for itself and its members (its
 * downloads are counted where the file is).
 */
export class StatsApi {
  constructor(private readonly options: StatsApiOptions) {}

  mount(router: HostRouter): void {
    const { queries, metrics } = this.options;
    if (metrics) {
      router.get('/-/metrics', async (ctx) => {
        ctx.set('Cache-Control', 'no-store');
        try {
          if (!metrics.open) {
            const principal = await this.options.authentication.authenticate(ctx.get('Authorization') || undefined, ctx.ip);
            if (!this.options.allowed(principal, 'admin', 'the admin API')) {
              throw principal.anonymous ? new UnauthorizedError('metrics are for administrators (metrics.open: true serves them to anyone)') : new ForbiddenError('metrics are for administrators');
            }
          }
          const rendered = await metrics.registry.render();
          ctx.type = rendered.contentType;
          ctx.body = rendered.body;
        } catch (error) {
          this.fail(ctx, error);
        }
      });
    }
    router.get('/-/api/stats', (ctx) =>
      this.answer(ctx, (scope, q) => statsReport(queries, (n) => this.options.repositories.get(n), { ...scope, top: q.limit('top', 10) })),
    );
    router.get('/-/api/stats/top', (ctx) =>
      this.answer(ctx, async (scope, q) => ({ since: scope.since, packages: await queries.top(scope, q.limit('limit', 10)) })),
    );
    router.get('/-/api/stats/package', (ctx) =>
      this.answer(ctx, async (scope, q) => {
        const name = q.text('name');
        if (name === undefined) throw new BadRequestError('give ?name=<package>');
        const found = await queries.package(name, scope);
        if (!found) throw new NotFoundError(`no download of ${name.slice(0, 200)} since ${scope.since}`);
        return found;
      }),
    );
    router.get('/-/api/stats/recent', (ctx) =>
      this.answer(ctx, async (scope, q) => ({ files: await queries.recentlyCached(scope.repositories ?? [...this.options.repositories.keys()], q.limit('limit', 20)) })),
    );
    router.get('/-/api/stats/unused', (ctx) =>
      this.answer(ctx, async (scope, q) => {
        const days = q.limit('days', 90);
        return { days, files: await queries.neverDownloaded(scope.repositories ?? [...this.options.repositories.keys()], days, q.limit('limit', 100)) };
      }),
    );
  }

  private async answer(
    ctx: Context,
    work: (
      scope: { since: string; format?: string; repositories?: readonly string[] },
      q: { text(name: string): string | undefined; limit(name: string, fallback: number): number },
    ) => Promise<unknown>,
  ): Promise<void> {
    ctx.set('Cache-Control', 'no-store');
    try {
      const text = (name: string) => (typeof ctx.query[name] === 'string' && ctx.query[name] !== '' ? (ctx.query[name] as string) : undefined);
      const limit = (name: string, fallback: number) => {
        const value = text(name);
        if (value === undefined) return fallback;
        const n = Number(value);
        if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT * 10) throw new BadRequestError(`${name}: a positive integer`);
        return Math.min(n, name === 'days' ? n : MAX_LIMIT);
      };
      const principal = await this.options.authentication.authenticate(ctx.get('Authorization') || undefined, ctx.ip);
      const repository = text('repository');
      const admin = this.options.allowed(principal, 'admin', 'the admin API');
      if (repository !== undefined && !this.options.repositories.has(repository)) {
        if (admin) throw new NotFoundError(`no repository named ${repository.slice(0, 64)}`);
        throw new ForbiddenError('stats of a repository need read permission on it');
      }
      if (repository === undefined && !admin) {
        if (principal.anonymous) throw new UnauthorizedError('stats of every repository are for administrators');
        throw new ForbiddenError('stats of every repository are for administrators: give ?repository=<one you may read>');
      }
      if (repository !== undefined && !admin && !this.options.allowed(principal, 'read', repository)) {
        throw new ForbiddenError('stats of a repository need read permission on it');
      }
      const format = text('format');
      const scope = {
        since: sinceDay(text('since')),
        ...(format !== undefined ? { format } : {}),
        ...(repository !== undefined ? { repositories: withMembers(repository, (n) => this.options.repositories.get(n)) } : {}),
      };
      ctx.body = await work(scope, { text, limit });
    } catch (error) {
      this.fail(ctx, error);
    }
  }

  private fail(ctx: Context, error: unknown): void {
    const known = isRegistryError(error);
    if (!known) this.options.logger.error('stats API error', { error: String((error as Error)?.stack ?? error) });
    ctx.status = known ? error.status : 500;
    if (ctx.status === 401) ctx.set('WWW-Authenticate', 'Basic realm="registry-core"');
    ctx.body = { error: known ? error.message : 'internal error' };
  }
}
