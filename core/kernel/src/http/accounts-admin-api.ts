import type { Context } from 'koa';
import { BadRequestError, NotFoundError, type Principal } from '@registry-core/api';
import type { UserTokens } from '../auth/tokens.js';
import type { Users } from '../auth/users.js';
import type { AuthConfig } from '../config/types.js';
import type { RepositoryRuntime } from './dispatcher.js';
import type { HostRouter } from './host-router.js';
import { readJsonObject as readJson } from './web-session.js';

export interface AccountsAdminApiOptions {
  readonly users: Users;
  readonly tokens: UserTokens;
  readonly auth: Pick<AuthConfig, 'anonymousRead' | 'allowRegistration' | 'permissions'>;
  readonly repositories: ReadonlyMap<string, RepositoryRuntime>;
  /** Run `work` for an administrator and answer its result as JSON (AdminApi.admin). */
  readonly admin: (ctx: Context, work: (principal: Principal) => Promise<unknown>) => Promise<void>;
}

const ROLE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Administrators' management of users and tokens, and the permission rules as the kernel
 * reads them, under `/-/admin/` (what the web interface's admin area shows; the CLI's
 * `user` and `token` commands do the same on the metadata store directly).
 */
export class AccountsAdminApi {
  constructor(private readonly options: AccountsAdminApiOptions) {}

  mount(router: HostRouter): void {
    const { users, tokens, admin } = this.options;
    const actor = (ctx: Context, principal: Principal) => ({ principal: principal.name, clientAddress: ctx.ip });
    router.get('/-/admin/users', (ctx) => admin(ctx, async () => ({ users: await users.list() })));
    // {"name", "password", "roles"?, "email"?}
    router.post('/-/admin/users', (ctx) =>
      admin(ctx, async (principal) => {
        const body = await readJson(ctx);
        const name = text(body, 'name');
        const password = text(body, 'password');
        const roles = roleList(body['roles'] ?? []);
        const email = body['email'] === undefined || body['email'] === '' ? undefined : text(body, 'email');
        const user = await users.add(name, password, { roles, ...(email ? { email } : {}), actor: actor(ctx, principal) });
        ctx.status = 201;
        return { name: user.name, roles: user.roles };
      }),
    );
    router.put('/-/admin/users/:name/password', (ctx, params) =>
      admin(ctx, async (principal) => {
        await users.setPassword(params['name'] as string, text(await readJson(ctx), 'password'), actor(ctx, principal));
        return { ok: true };
      }),
    );
    router.put('/-/admin/users/:name/roles', (ctx, params) =>
      admin(ctx, async (principal) => {
        const roles = roleList((await readJson(ctx))['roles']);
        await users.setRoles(params['name'] as string, roles, actor(ctx, principal));
        return { name: params['name'], roles };
      }),
    );
    // {"disabled": true|false}: a disabled user's logins and tokens are refused until enabled.
    router.put('/-/admin/users/:name/disabled', (ctx, params) =>
      admin(ctx, async (principal) => {
        const disabled = (await readJson(ctx))['disabled'];
        if (typeof disabled !== 'boolean') throw new BadRequestError('disabled: required, true or false');
        await users.setDisabled(params['name'] as string, disabled, actor(ctx, principal));
        return { name: params['name'], disabled };
      }),
    );
    router.get('/-/admin/tokens', (ctx) =>
      admin(ctx, async () => {
        const user = typeof ctx.query['user'] === 'string' && ctx.query['user'] !== '' ? ctx.query['user'] : undefined;
        return { tokens: await tokens.list(user) };
      }),
    );
    router.delete('/-/admin/tokens/:id', (ctx, params) =>
      admin(ctx, async (principal) => {
        const id = params['id'] as string;
        if (!(await tokens.list()).some((t) => t.id === id)) throw new NotFoundError(`no token ${id.slice(0, 64)}`);
        await tokens.revoke(id, actor(ctx, principal));
        return { revoked: id };
      }),
    );
    router.get('/-/admin/permissions', (ctx) =>
      admin(ctx, async () => {
        const { auth, repositories } = this.options;
        return {
          anonymousRead: auth.anonymousRead,
          allowRegistration: auth.allowRegistration,
          rules: auth.permissions,
          repositories: [...repositories.values()].map((r) => ({ name: r.name, ...(r.config.anonymousRead !== undefined ? { anonymousRead: r.config.anonymousRead } : {}) })),
        };
      }),
    );
  }
}

function text(body: Record<string, unknown>, key: string): string {
  const value = body[key];
  if (typeof value !== 'string' || value === '' || value.length > 512) throw new BadRequestError(`${key}: required, a string`);
  return value;
}

function roleList(value: unknown): string[] {
  if (!Array.isArray(value) || !value.every((r) => typeof r === 'string' && ROLE.test(r))) throw new BadRequestError(`roles: a list of role names (${ROLE})`);
  return [...new Set(value as string[])];
}
