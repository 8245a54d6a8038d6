import type { Context } from 'koa';
import { BadRequestError, NotFoundError, isRegistryError, type Logger, type Principal } from '@registry-core/api';
import { parseSince, type AuditLog } from '../auth/audit-log.js';
import type { Authentication } from '../auth/authentication.js';
import type { DerivedMemoryStats } from '../engine/derived-cache.js';
import type { MetadataMemoryStats } from '../engine/metadata-memory.js';
import type { IdleMemoryStats } from '../registry/idle-memory.js';
import type { Authorization } from '../auth/authorization.js';
import type { PackageOwnership } from '../auth/package-owners.js';
import type { TtlOverrides } from '../engine/ttl-overrides.js';
import { readRequestBody } from './body.js';
import type { RepositoryRuntime } from './dispatcher.js';
import type { HostRouter } from './host-router.js';

export interface AdminApiOptions {
  readonly repositories: ReadonlyMap<string, RepositoryRuntime>;
  readonly authentication: Authentication;
  readonly authorization: Authorization;
  readonly audit: AuditLog;
  /** Package owners (the CLI's `owners`). */
  readonly owners: PackageOwnership;
  /** Per-artifact TTL overrides of proxies. */
  readonly ttls: TtlOverrides;
  /** Proxy counters for the stats endpoint. */
  readonly stats: () => Record<string, unknown>;
  /** The metadata memory's counters (see MetadataMemory). */
  readonly metadataMemory: () => MetadataMemoryStats;
  /** The derived memory's counters (see DerivedMemory); absent: not shown. */
  readonly derived?: () => DerivedMemoryStats;
  /** The other in-memory caches' sizes (blob memory cache, content rows, replayed answers); absent: not shown. */
  readonly caches?: () => Record<string, unknown>;
  /** The process's memory and idle releases (registry/idle-memory.ts); absent: not shown. */
  readonly memory?: () => IdleMemoryStats;
  /** Download analytics totals of the last 30 days (all repositories, per format); absent: not shown. */
  readonly analytics?: () => Promise<unknown>;
  readonly logger: Logger;
  /** Who asks (the web interface's session cookie besides the `Authorization` header); default: the header. */
  readonly principal?: (ctx: Context) => Promise<Principal>;
}

/**
 * The host's management endpoints: `/-/stats` (proxy counters, open), and under
 * `/-/admin/` for administrators only the audit log and per-artifact TTL overrides of
 * proxies (what the CLI's `audit` and `cache ttl` show and change on a running server).
 */
export class AdminApi {
  constructor(private readonly options: AdminApiOptions) {}

  mount(router: HostRouter): void {
    const { options } = this;
    router.get('/-/stats', async (ctx) => {
      ctx.set('Cache-Control', 'no-store');
      // The totals come from the database: a failure there leaves them out, not the node's own counters.
      const analytics = options.analytics ? await options.analytics().catch((error: unknown) => ({ error: String((error as Error)?.message ?? error) })) : undefined;
      ctx.body = {
        repositories: options.stats(),
        metadataMemory: options.metadataMemory(),
        ...(options.derived ? { derived: options.derived() } : {}),
        ...(options.caches ? { caches: options.caches() } : {}),
        ...(options.memory ? { memory: options.memory() } : {}),
        ...(analytics !== undefined ? { analytics } : {}),
      };
    });
    // The audit log (the CLI's `audit`): ?since=7d|<date>&user=&repository=&action=&limit=
    router.get('/-/admin/audit', (ctx) =>
      this.admin(ctx, async () => {
        const q = (name: string) => (typeof ctx.query[name] === 'string' && ctx.query[name] !== '' ? (ctx.query[name] as string) : undefined);
        const since = q('since');
        const sinceMs = since === undefined ? undefined : parseSince(since);
        if (since !== undefined && sinceMs === undefined) throw new BadRequestError('since: a duration such as 7d, 12h, 30m, or a date');
        const limit = q('limit') === undefined ? 1000 : Number(q('limit'));
        if (!Number.isInteger(limit) || limit < 1) throw new BadRequestError('limit: a positive integer');
        const user = q('user');
        const repository = q('repository');
        const action = q('action');
        return {
          events: await options.audit.query({
            ...(sinceMs !== undefined ? { since: sinceMs } : {}),
            ...(user ? { user } : {}),
            ...(repository ? { repository } : {}),
            ...(action ? { action } : {}),
            limit,
          }),
        };
      }),
    );
    // Package owners: ?repository=&package= (add: a JSON body {repository, package, user}; rm: &user=).
    const ownersTarget = (query: Record<string, unknown>) => {
      const repository = query['repository'];
      const packageName = query['package'];
      if (typeof repository !== 'string' || typeof packageName !== 'string' || packageName === '') throw new BadRequestError('give ?repository=&package=');
      this.hostedNamed(repository);
      return { repository, packageName };
    };
    router.get('/-/admin/owners', (ctx) =>
      this.admin(ctx, async () => {
        const { repository, packageName } = ownersTarget(ctx.query);
        return { repository, package: packageName, owners: await options.owners.list(repository, packageName) };
      }),
    );
    router.put('/-/admin/owners', (ctx) =>
      this.admin(ctx, async (principal) => {
        const { value } = await readRequestBody(ctx.req, { kind: 'json', limit: 64 * 1024 }, 64 * 1024, '');
        const body = (value ?? {}) as Record<string, unknown>;
        const { repository, packageName } = ownersTarget(body);
        if (typeof body['user'] !== 'string' || body['user'] === '') throw new BadRequestError('expected {"repository": ..., "package": ..., "user": "<name>"}');
        const actor = { principal: principal.name, clientAddress: ctx.ip };
        return { repository, package: packageName, owners: await options.owners.operatorAdd(repository, packageName, body['user'], actor) };
      }),
    );
    router.delete('/-/admin/owners', (ctx) =>
      this.admin(ctx, async (principal) => {
        const { repository, packageName } = ownersTarget(ctx.query);
        const user = ctx.query['user'];
        if (typeof user !== 'string' || user === '') throw new BadRequestError('give &user=');
        const actor = { principal: principal.name, clientAddress: ctx.ip };
        return { repository, package: packageName, owners: await options.owners.operatorRemove(repository, packageName, user, actor) };
      }),
    );
    router.get('/-/admin/ttl', (ctx) => this.admin(ctx, async () => ({ overrides: await options.ttls.list(ctx.query['repository'] as string | undefined) })));
    router.put('/-/admin/ttl/:repository', (ctx, params) =>
      this.admin(ctx, async () => {
        const name = params['repository'] as string;
        this.proxyNamed(name);
        const { value } = await readRequestBody(ctx.req, { kind: 'json', limit: 64 * 1024 }, 64 * 1024, '');
        const body = value as { pattern?: unknown; seconds?: unknown } | undefined;
        if (typeof body?.pattern !== 'string' || body.pattern === '' || !Number.isInteger(body.seconds) || (body.seconds as number) < 0) {
          throw new BadRequestError('expected {"pattern": "<path or prefix*>", "seconds": <non-negative integer>}');
        }
        await options.ttls.set(name, body.pattern, body.seconds as number);
        return { ok: true, repository: name, pattern: body.pattern, seconds: body.seconds };
      }),
    );
    router.delete('/-/admin/ttl/:repository', (ctx, params) =>
      this.admin(ctx, async () => {
        const name = params['repository'] as string;
        const pattern = ctx.query['pattern'];
        if (typeof pattern !== 'string' || pattern === '') throw new BadRequestError('give ?pattern=');
        if (!(await options.ttls.unset(name, pattern))) throw new NotFoundError(`no override ${pattern} in ${name}`);
        return { ok: true };
      }),
    );
  }

  /** Run `work` for an administrator and answer its result as JSON, or the error it threw. */
  async admin(ctx: Context, work: (principal: Principal) => Promise<unknown>): Promise<void> {
    const { options } = this;
    try {
      const principal = options.principal ? await options.principal(ctx) : await options.authentication.authenticate(ctx.get('Authorization') || undefined, ctx.ip);
      options.authorization.authorize(principal, 'admin', { name: 'the admin API' });
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await work(principal);
    } catch (error) {
      const known = isRegistryError(error);
      if (!known) options.logger.error('admin API error', { error: String((error as Error)?.stack ?? error) });
      ctx.status = known ? error.status : 500;
      if (ctx.status === 401) ctx.set('WWW-Authenticate', 'Basic realm="registry-core"');
      ctx.body = { error: known ? error.message : 'internal error' };
    }
  }

  private hostedNamed(name: string): void {
    const runtime = this.options.repositories.get(name);
    if (!runtime || runtime.config.type !== 'hosted') throw new NotFoundError(`no hosted repository named ${name}`);
  }

  private proxyNamed(name: string): void {
    const runtime = this.options.repositories.get(name);
    if (!runtime || runtime.config.type !== 'proxy') throw new NotFoundError(`no proxy repository named ${name}`);
  }
}
