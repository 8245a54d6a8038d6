import {
  BadRequestError,
  NotFoundError,
  UnauthorizedError,
  isRegistryError,
  jsonResponse,
  type FormatRequestContext,
  type FormatResponse,
} from '@registry-core/api';

const COUCH_USER_PREFIX = 'org.couchdb.user:';

function statusOf(error: unknown): number | undefined {
  return isRegistryError(error) ? error.status : undefined;
}

function loggedIn(name: string, token: string): FormatResponse {
  return { status: 201, body: { kind: 'json', value: { ok: true, id: `${COUCH_USER_PREFIX}${name}`, token } }, cachePolicy: 'no-store' };
}

/**
 * `PUT /-/user/org.couchdb.user:<name>`, the legacy ("couch") login of `npm login` and
 * `npm adduser`: the right password for an existing user gets a new token; an unknown
 * name is registered (when the host allows self-registration). A wrong password is a 401,
 * never a 409: on 409 npm would go on to fetch and rewrite a CouchDB user document, which
 * this registry does not have.
 */
export async function couchLogin(ctx: FormatRequestContext): Promise<FormatResponse> {
  const id = String(ctx.params['id'] ?? '');
  if (!id.startsWith(COUCH_USER_PREFIX)) throw new NotFoundError('not found');
  const name = id.slice(COUCH_USER_PREFIX.length);
  const body = ctx.body as { name?: unknown; password?: unknown; email?: unknown } | undefined;
  if (!body || typeof body !== 'object' || typeof body.password !== 'string' || body.password === '' || !name || (body.name !== undefined && body.name !== name)) {
    throw new BadRequestError(`expected {"name": "${name.slice(0, 64)}", "password": "..."} for ${COUCH_USER_PREFIX}<name>`);
  }
  const email = typeof body.email === 'string' ? body.email : undefined;
  try {
    return loggedIn(name, (await ctx.auth.login(name, body.password)).token);
  } catch (error) {
    if (statusOf(error) !== 401) throw error;
  }
  // Unknown user or wrong password: registering tells the two apart.
  try {
    return loggedIn(name, (await ctx.auth.addUser(name, body.password, email)).token);
  } catch (error) {
    if (statusOf(error) === 409) throw new UnauthorizedError(`wrong password for ${name}`);
    throw error;
  }
}

/**
 * `GET /-/user/org.couchdb.user:<name>`: a user's public profile (name, email), which
 * `npm owner add|rm` fetches before changing a package's maintainers. Signed-in users only.
 */
export async function userProfile(ctx: FormatRequestContext): Promise<FormatResponse> {
  const id = String(ctx.params['id'] ?? '');
  if (!id.startsWith(COUCH_USER_PREFIX)) throw new NotFoundError('not found');
  if (ctx.principal.anonymous) throw new UnauthorizedError('log in to look users up');
  const name = id.slice(COUCH_USER_PREFIX.length);
  const user = await ctx.owners.user(name);
  if (!user) throw new NotFoundError(`no user named ${name.slice(0, 128)}`);
  return jsonResponse({ _id: `${COUCH_USER_PREFIX}${user.name}`, name: user.name, ...(user.email ? { email: user.email } : {}) }, { cachePolicy: 'no-store' });
}

/** `GET /-/whoami`. */
export async function whoami(ctx: FormatRequestContext): Promise<FormatResponse> {
  if (ctx.principal.anonymous) throw new UnauthorizedError('not logged in');
  return jsonResponse({ username: ctx.principal.name }, { cachePolicy: 'no-store' });
}

/**
 * `DELETE /-/user/token/<token>` (`npm logout`): revokes the token. The host revokes only
 * a token of the authenticated user, so nobody revokes a token they merely saw.
 */
export async function logout(ctx: FormatRequestContext): Promise<FormatResponse> {
  const given = String(ctx.params['token'] ?? '');
  if (ctx.principal.anonymous) throw new UnauthorizedError('log in to log out');
  if (!given || !(await ctx.auth.revokeToken(given))) throw new NotFoundError('no such token of yours');
  return jsonResponse({ ok: true }, { cachePolicy: 'no-store' });
}

/**
 * `POST /-/v1/login`, npm's web login. Not offered: npm-profile falls back to the couch
 * login above on any 4xx (or a 500) from this endpoint, so a 404 is the answer.
 */
export async function webLogin(): Promise<FormatResponse> {
  throw new NotFoundError('web login is not supported by this registry; npm falls back to the legacy login');
}
