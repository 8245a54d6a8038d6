import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';
import { BadRequestError, ForbiddenError, NotFoundError, UnauthorizedError, isRegistryError, type Logger, type Principal } from '@registry-core/api';
import { ANONYMOUS, type Authentication } from '../auth/authentication.js';
import type { Authorization } from '../auth/authorization.js';
import type { UserTokens } from '../auth/tokens.js';
import type { AuditLog } from '../auth/audit-log.js';
import { readRequestBody } from './body.js';
import type { HostRouter } from './host-router.js';

/** The session cookie: a user token made at sign-in (HttpOnly, SameSite=Strict). */
export const SESSION_COOKIE = 'rc_session';
/** The description of the tokens sessions are made of (revoked at sign-out). */
const SESSION_DESCRIPTION = 'web session';
const BODY_LIMIT = 16 * 1024;

export interface WebSessionOptions {
  readonly authentication: Authentication;
  readonly authorization: Authorization;
  readonly tokens: UserTokens;
  /** How long a session lasts. */
  readonly sessionSeconds: number;
  readonly logger: Logger;
  /** Where successful sign-ins are recorded (`login`, `details.via`: `web password` or `web token`). */
  readonly audit?: AuditLog;
}

/**
 * Sign-in for the web interface and the JSON APIs it reads: a password (or a token) posted
 * to `/-/api/session` becomes a session cookie holding a user token of its own (HttpOnly,
 * SameSite=Strict, revoked at sign-out), so sessions hold on every node sharing the metadata
 * store and end when the token is revoked. A request authenticated by the cookie must carry
 * `X-CSRF-Token` on every write: a value derived from the cookie, which another site can
 * neither read nor compute. An `Authorization` header works as everywhere else (no cookie,
 * no CSRF token needed). Also the signed-in user's own tokens (create, list, revoke).
 */
export class WebSessions {
  constructor(private readonly options: WebSessionOptions) {}

  /** Who asks: the `Authorization` header, else the session cookie; a write by cookie needs its CSRF token. */
  async principal(ctx: Context): Promise<Principal> {
    const header = ctx.get('Authorization');
    if (header) return this.options.authentication.authenticate(header, ctx.ip);
    const session = ctx.cookies.get(SESSION_COOKIE);
    if (!session) return ANONYMOUS;
    if (!['GET', 'HEAD'].includes(ctx.method) && !sameText(ctx.get('X-CSRF-Token'), csrfToken(session))) throw new ForbiddenError('missing or wrong X-CSRF-Token header');
    try {
      return await this.options.authentication.authenticate(`Bearer ${session}`, ctx.ip);
    } catch (error) {
      // A session that ended (revoked, expired): anonymous, and the browser forgets the cookie.
      if (isRegistryError(error) && error.status === 401) {
        this.clearCookie(ctx);
        return ANONYMOUS;
      }
      throw error;
    }
  }

  mount(router: HostRouter): void {
    const { options } = this;
    router.get('/-/api/session', (ctx) =>
      this.json(ctx, async () => {
        const principal = await this.principal(ctx);
        const session = ctx.cookies.get(SESSION_COOKIE);
        return { ...describe(principal, this.isAdmin(principal)), ...(session && !principal.anonymous ? { csrfToken: csrfToken(session) } : {}) };
      }),
    );
    // Sign in: {"user", "password"} or {"token"}.
    router.post('/-/api/session', (ctx) =>
      this.json(ctx, async () => {
        const body = await readJsonObject(ctx);
        let principal: Principal;
        let token: string;
        if (typeof body['token'] === 'string' && body['token'] !== '') {
          principal = await options.authentication.authenticate(`Bearer ${body['token']}`, ctx.ip);
          token = body['token'];
        } else {
          const user = typeof body['user'] === 'string' ? body['user'] : '';
          const password = typeof body['password'] === 'string' ? body['password'] : '';
          if (!user || !password) throw new BadRequestError('expected {"user": ..., "password": ...} or {"token": ...}');
          const checked = await options.authentication.checkPassword(user, password, ctx.ip);
          if (!checked) throw new UnauthorizedError('bad user name or password');
          principal = { name: checked.name, anonymous: false, roles: checked.roles, via: 'password', readOnly: false };
          token = (await options.tokens.create(checked.name, { description: SESSION_DESCRIPTION, ttlSeconds: options.sessionSeconds, actor: { principal: checked.name, clientAddress: ctx.ip } })).token;
        }
        await options.audit?.record({ action: 'login', principal: principal.name, clientAddress: ctx.ip, details: { via: principal.via === 'password' ? 'web password' : 'web token' } });
        ctx.cookies.set(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'strict', path: '/', secure: ctx.secure, maxAge: options.sessionSeconds * 1000, overwrite: true });
        return { ...describe(principal, this.isAdmin(principal)), csrfToken: csrfToken(token) };
      }),
    );
    router.delete('/-/api/session', (ctx) =>
      this.json(ctx, async () => {
        const principal = await this.principal(ctx);
        const session = ctx.cookies.get(SESSION_COOKIE);
        // Only a token the sign-in made is revoked; one the user signed in with stays theirs.
        if (session && !principal.anonymous && principal.tokenId) {
          const mine = (await options.tokens.list(principal.name)).find((t) => t.id === principal.tokenId);
          if (mine?.description === SESSION_DESCRIPTION) await options.tokens.revokeOwn(session, principal.name);
        }
        this.clearCookie(ctx);
        return { signedOut: true };
      }),
    );
    router.get('/-/api/tokens', (ctx) =>
      this.json(ctx, async () => {
        const principal = await this.signedIn(ctx);
        return { tokens: (await options.tokens.list(principal.name)).filter((t) => t.description !== SESSION_DESCRIPTION) };
      }),
    );
    // {"description", "readOnly", "expiresInDays", "repositories": [...], "packages": [...]}: the secret is in this answer only.
    router.post('/-/api/tokens', (ctx) =>
      this.json(ctx, async () => {
        const principal = await this.signedIn(ctx);
        const body = await readJsonObject(ctx);
        const globs = (key: string) => {
          const value = body[key];
          if (value === undefined) return undefined;
          if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v !== '' && v.length <= 200)) throw new BadRequestError(`${key}: a list of names or globs`);
          return value as string[];
        };
        const days = body['expiresInDays'];
        if (days !== undefined && (typeof days !== 'number' || !Number.isFinite(days) || days <= 0 || days > 3650)) throw new BadRequestError('expiresInDays: a number of days, at most 3650');
        const description = body['description'];
        if (description !== undefined && (typeof description !== 'string' || description.length > 200 || description === SESSION_DESCRIPTION)) throw new BadRequestError('description: a short text');
        const repositories = globs('repositories');
        const packages = globs('packages');
        const created = await options.tokens.create(principal.name, {
          readOnly: body['readOnly'] === true || principal.readOnly,
          ...(description ? { description } : {}),
          ...(days !== undefined ? { ttlSeconds: Math.round(days * 86_400) } : {}),
          ...(repositories ? { repositories } : {}),
          ...(packages ? { packages } : {}),
          actor: { principal: principal.name, clientAddress: ctx.ip },
        });
        ctx.status = 201;
        return { token: created.token, info: created.info };
      }),
    );
    router.delete('/-/api/tokens/:id', (ctx, params) =>
      this.json(ctx, async () => {
        const principal = await this.signedIn(ctx);
        const id = params['id'] as string;
        const mine = (await options.tokens.list(principal.name)).find((t) => t.id === id);
        if (!mine) throw new NotFoundError(`you have no token ${id.slice(0, 64)}`);
        await options.tokens.revoke(mine.id, { principal: principal.name, clientAddress: ctx.ip });
        return { revoked: mine.id };
      }),
    );
  }

  private async signedIn(ctx: Context): Promise<Principal> {
    const principal = await this.principal(ctx);
    if (principal.anonymous) throw new UnauthorizedError('sign in first');
    return principal;
  }

  private isAdmin(principal: Principal): boolean {
    try {
      this.options.authorization.authorize(principal, 'admin', { name: 'the admin API' });
      return true;
    } catch {
      return false;
    }
  }

  private clearCookie(ctx: Context): void {
    ctx.cookies.set(SESSION_COOKIE, '', { httpOnly: true, sameSite: 'strict', path: '/', secure: ctx.secure, maxAge: 0, overwrite: true });
  }

  /** Answer `work`'s result as JSON (never cached), or the error it threw. */
  async json(ctx: Context, work: () => Promise<unknown>): Promise<void> {
    try {
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await work();
    } catch (error) {
      const known = isRegistryError(error);
      if (!known) this.options.logger.error('web API error', { error: String((error as Error)?.stack ?? error) });
      ctx.status = known ? error.status : 500;
      ctx.body = { error: known ? error.message : 'internal error' };
    }
  }
}

/** What the web interface shows of who is signed in. */
function describe(principal: Principal, admin: boolean) {
  return { user: principal.anonymous ? null : principal.name, roles: principal.roles, admin, readOnly: principal.readOnly };
}

/** The CSRF token of a session: derived from its secret, so nothing is stored and another site cannot compute it. */
export function csrfToken(session: string): string {
  return createHash('sha256').update(`registry-core csrf\n${session}`).digest('base64url');
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A small JSON object body (at most 16 KiB). */
export async function readJsonObject(ctx: Context): Promise<Record<string, unknown>> {
  const { value } = await readRequestBody(ctx.req, { kind: 'json', limit: BODY_LIMIT }, BODY_LIMIT, '');
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BadRequestError('expected a JSON object');
  return value as Record<string, unknown>;
}
