import { BadRequestError, NotFoundError, jsonResponse, type FormatRequestContext, type FormatResponse, type TokenDescription } from '@registry-core/api';
import { parseName } from './names.js';

/**
 * The key npm shows for a token: its id without dashes. npm's output redacts anything
 * shaped like a UUID (its own old token format), which would hide the key a user needs
 * for `npm token revoke`.
 */
const keyOf = (id: string) => id.replace(/-/g, '');
const idOf = (key: string) => (/^[0-9a-f]{32}$/.test(key) ? `${key.slice(0, 8)}-${key.slice(8, 12)}-${key.slice(12, 16)}-${key.slice(16, 20)}-${key.slice(20)}` : key);

/** npm's view of a token (`npm token list`). `key` identifies it for `npm token revoke`. */
function npmToken(t: TokenDescription) {
  return {
    key: keyOf(t.id),
    token: t.prefix,
    name: t.description ?? '',
    readonly: t.readOnly,
    created: t.createdAt.toISOString(),
    updated: (t.lastUsedAt ?? t.createdAt).toISOString(),
    ...(t.expiresAt ? { expires: t.expiresAt.toISOString() } : {}),
    ...(t.packages ? { packages: t.packages } : {}),
    cidr_whitelist: null,
  };
}

const strings = (value: unknown, field: string): string[] | undefined => {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) throw new BadRequestError(`${field} must be a list of names`);
  return value as string[];
};

/**
 * `POST /-/npm/v1/tokens` (`npm token create`): a new token for the logged-in user, after
 * the password again. npm's options map onto the registry's scoped tokens: `packages`
 * (exact names) and `scopes` (`@scope` → `@scope/*`) limit what it may publish and
 * delete; `packages_and_scopes_permission: read-only` makes it read-only; `expires` is in
 * days. IP allow-lists (`cidr_whitelist`) are refused: this registry does not enforce them.
 */
export async function createToken(ctx: FormatRequestContext): Promise<FormatResponse> {
  const body = ctx.body as Record<string, unknown> | undefined;
  if (!body || typeof body !== 'object' || typeof body['password'] !== 'string' || body['password'] === '') {
    throw new BadRequestError('expected {"password": "..."}: creating a token needs the password again');
  }
  if (Array.isArray(body['cidr_whitelist']) && body['cidr_whitelist'].length > 0) {
    throw new BadRequestError('CIDR allow-lists are not supported by this registry; create the token without --cidr');
  }
  const packages = strings(body['packages'], 'packages') ?? [];
  for (const name of packages) parseName(name);
  const scopes = (strings(body['scopes'], 'scopes') ?? []).map((scope) => {
    const bare = scope.replace(/^@/, '');
    if (!/^[a-z0-9][a-z0-9._-]*$/.test(bare)) throw new BadRequestError(`invalid scope ${scope.slice(0, 80)}`);
    return `@${bare}/*`;
  });
  const permission = body['packages_and_scopes_permission'];
  if (permission !== undefined && permission !== 'read-only' && permission !== 'read-write') {
    throw new BadRequestError('packages_and_scopes_permission must be read-only or read-write');
  }
  const expires = body['expires'];
  if (expires !== undefined && (!Number.isInteger(expires) || (expires as number) < 1)) throw new BadRequestError('expires must be a number of days');
  const name = typeof body['name'] === 'string' && body['name'] !== '' ? body['name'].slice(0, 200) : undefined;
  const { token, info } = await ctx.auth.createToken(body['password'], {
    readOnly: body['readonly'] === true || permission === 'read-only',
    ...(name ? { description: name } : {}),
    ...(expires !== undefined ? { ttlSeconds: (expires as number) * 86_400 } : {}),
    ...(packages.length + scopes.length > 0 ? { packages: [...packages, ...scopes] } : {}),
  });
  return jsonResponse({ ...npmToken(info), token }, { status: 201, cachePolicy: 'no-store' });
}

/** `GET /-/npm/v1/tokens` (`npm token list`): the logged-in user's tokens, one page. */
export async function listTokens(ctx: FormatRequestContext): Promise<FormatResponse> {
  const tokens = await ctx.auth.listTokens();
  return jsonResponse({ objects: tokens.map(npmToken), total: tokens.length, urls: {} }, { cachePolicy: 'no-store' });
}

/** `DELETE /-/npm/v1/tokens/token/<key>` (`npm token revoke`). */
export async function revokeToken(ctx: FormatRequestContext): Promise<FormatResponse> {
  const key = String(ctx.params['key'] ?? '');
  if (!(await ctx.auth.revokeTokenById(idOf(key)))) throw new NotFoundError('no such token of yours');
  return { status: 204, cachePolicy: 'no-store' };
}
