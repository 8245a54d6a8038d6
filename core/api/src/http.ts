import type { Readable } from 'node:stream';
import type { Permission, Principal } from './auth.js';
import { NotFoundError, PayloadTooLargeError } from './errors.js';
import type { GroupPlan } from './group.js';
import type { Logger } from './logger.js';
import type {
  Asset,
  CacheStatus,
  DerivedCache,
  GroupRepositoryHandle,
  HostedRepositoryHandle,
  IncomingAsset,
  ProxyCache,
  ProxyRepositoryHandle,
  RenderedJson,
  RepositoryHandle,
} from './repository.js';

/** HTTP methods a route can declare. HEAD is served by every GET route automatically. */
export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'DELETE' | 'PATCH';

/**
 * Body handling of a route, enforced by the host before the handler runs. There is no
 * global body parser: a route that declares nothing gets no body.
 */
export type BodySpec =
  | { readonly kind: 'none' }
  /**
   * Parsed JSON, refused with 413 above `limit` bytes (default: the repository's upload
   * limit plus base64 overhead). With `spillStringsOver`, every string value longer than
   * that many bytes is streamed to a temporary file instead of memory and appears in the
   * parsed value as a {@link SpilledString} (an npm publish's base64 tarball, say).
   */
  | { readonly kind: 'json'; readonly limit?: number; readonly spillStringsOver?: number }
  /** The raw request stream; the host refuses a Content-Length above `limit` and cuts a longer stream. */
  | { readonly kind: 'stream'; readonly limit?: number }
  /**
   * `multipart/form-data` (a twine upload, a NuGet push), parsed into a {@link MultipartBody}:
   * text fields in memory (at most `maxFields` of at most `maxFieldBytes` each; defaults
   * 1000 and 1 MiB), file parts streamed to temporary files while their sha256 and md5 are
   * computed, the whole body refused with 413 above `limit` (default: the repository's
   * upload limit plus 1 MiB).
   */
  | { readonly kind: 'multipart'; readonly limit?: number; readonly maxFields?: number; readonly maxFieldBytes?: number };

/** A file part of a {@link MultipartBody}, kept on disk; valid until the handler's promise settles. */
export interface UploadedFile {
  /** The form field it came in. */
  readonly field: string;
  /** The client's file name (untrusted: validate it before using it anywhere). */
  readonly filename: string;
  readonly contentType: string;
  readonly size: number;
  /** Hex digests of the bytes, computed while they were written. */
  readonly sha256: string;
  readonly md5: string;
  /** Where the bytes are (for formats that need random access, such as reading a zip). */
  readonly path: string;
  /** Stream the bytes. */
  open(): Readable;
}

/** The parsed body of a `multipart` route. */
export interface MultipartBody {
  /** Text fields by name, every value in arrival order (fields may repeat). */
  readonly fields: Readonly<Record<string, readonly string[]>>;
  /** File parts by field name, in arrival order. */
  readonly files: Readonly<Record<string, readonly UploadedFile[]>>;
}

const SPILLED = Symbol.for('registry-core.spilled-string');

/**
 * A long JSON string value the host kept on disk instead of in memory (see
 * `BodySpec.spillStringsOver`). Valid until the handler's promise settles.
 */
export interface SpilledString {
  readonly [SPILLED]: true;
  /** Length of the (unescaped) string in bytes. */
  readonly size: number;
  /** Stream the string's bytes; with `base64`, the bytes it encodes. */
  open(decode?: 'base64'): Readable;
  /** The string itself, refused above `maxBytes`. */
  text(maxBytes: number): Promise<string>;
}

/** True when `value` is a {@link SpilledString}. */
export function isSpilledString(value: unknown): value is SpilledString {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[SPILLED] === true;
}

/** Brand for host implementations of {@link SpilledString}. */
export const SPILLED_STRING_BRAND: typeof SPILLED = SPILLED;

/** How clients and intermediaries may cache a response. */
export type CachePolicy = 'immutable' | 'metadata' | 'no-store';

/** Body of a {@link FormatResponse}. */
export type ResponseBody =
  /** Serialised by the kernel (yielding to the event loop), with a sha256 ETag; see {@link jsonResponse}. */
  | { readonly kind: 'json'; readonly value: unknown; readonly contentType?: string }
  | { readonly kind: 'text'; readonly value: string; readonly contentType: string }
  | { readonly kind: 'buffer'; readonly value: Buffer; readonly contentType: string }
  /** An answer the kernel rendered ({@link DerivedCache.renderJson}, {@link DerivedCache.renderText}): served with its ETag (304 on a match). */
  | { readonly kind: 'rendered'; readonly rendered: RenderedJson; readonly contentType?: string }
  /** A stored asset: the host adds ETag, Last-Modified, Range (206) and conditional (304) handling. */
  | { readonly kind: 'asset'; readonly asset: Asset }
  /**
   * Content still arriving from an upstream (from {@link ProxyCache.serve}): streamed as it
   * arrives, without ETag or ranges; a failed download cuts the response short.
   */
  | { readonly kind: 'incoming'; readonly incoming: IncomingAsset }
  /**
   * Bytes the handler streams as it makes them (a document too large to hold): no ETag or
   * 304 unless the response's headers give an `etag` (then If-None-Match and
   * If-Modified-Since are answered as for other documents, without reading the stream).
   */
  | { readonly kind: 'stream'; readonly value: Readable; readonly contentType: string; readonly size?: number };

/** What a route handler returns; the host writes it. */
export interface FormatResponse {
  /** Default 200. */
  readonly status?: number;
  /** Extra headers. An `ETag` given here is used as is (else the host hashes the body). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: ResponseBody;
  /** Sets `X-Cache`. */
  readonly cache?: CacheStatus;
  /** Sets `Cache-Control`; default `metadata` for GET answers that are not assets. */
  readonly cachePolicy?: CachePolicy;
}

/**
 * Login and token services a format uses for its client's own login endpoints
 * (`npm login`, ...). Credentials of ordinary requests are parsed by the host, never by
 * a format.
 */
export interface FormatAuthService {
  /** Check a password and issue a new read-write token. Throws UnauthorizedError on a bad password. */
  login(name: string, password: string): Promise<{ token: string }>;
  /**
   * Register a user and issue a token. Throws ConflictError when the name is taken,
   * ForbiddenError when self-registration is disabled.
   */
  addUser(name: string, password: string, email?: string): Promise<{ token: string }>;
  /**
   * Revoke a token given in clear (logout). Only a token of the request's own user is
   * revoked (resolves false otherwise, and for an unknown token).
   */
  revokeToken(token: string): Promise<boolean>;
  /**
   * Create a token for the request's user (a client's token API, e.g. `npm token create`),
   * after checking that user's password again. Throws UnauthorizedError without a user or
   * on a bad password.
   */
  createToken(password: string, options?: TokenOptions): Promise<{ token: string; info: TokenDescription }>;
  /** The request's user's tokens (never their secrets). */
  listTokens(): Promise<TokenDescription[]>;
  /** Revoke one of the request's user's tokens by id; false when it has none with that id. */
  revokeTokenById(id: string): Promise<boolean>;
  /**
   * A short-lived signed access token (a registry's Bearer token flow, OCI's token
   * endpoint) for the request's principal, anonymous included, granting of `requested`
   * only what the principal may do now (checked against the permissions; a group's grant
   * extends to its members). A request carrying it can do nothing else, reads included.
   * Valid on every node sharing the metadata store; it cannot be revoked, so keep it short.
   */
  issueAccessToken(requested: readonly AccessGrant[], ttlSeconds: number): Promise<AccessToken>;
}

/** What an access token lets its bearer do: `actions` on a repository, or one package in it. */
export interface AccessGrant {
  readonly repository: string;
  /** A package (image) name; absent: the repository as a whole. */
  readonly package?: string;
  readonly actions: readonly Permission[];
}

/** An issued access token. */
export interface AccessToken {
  readonly token: string;
  readonly expiresIn: number;
  readonly issuedAt: Date;
  /** What was granted (requested actions the principal lacks are left out). */
  readonly granted: readonly AccessGrant[];
}

/** What a new token may do. */
export interface TokenOptions {
  readonly readOnly?: boolean;
  readonly description?: string;
  /** Lifetime in seconds (default: the registry's `auth.tokenTtlSeconds`). */
  readonly ttlSeconds?: number;
  /** Repository globs the token may change (default: any). */
  readonly repositories?: readonly string[];
  /** Package-name globs the token may change (default: any). */
  readonly packages?: readonly string[];
}

/** A token as listed: never its secret, only the first characters. */
export interface TokenDescription {
  readonly id: string;
  readonly user: string;
  readonly prefix: string;
  readonly readOnly: boolean;
  readonly createdAt: Date;
  readonly expiresAt?: Date;
  readonly lastUsedAt?: Date;
  readonly description?: string;
  readonly repositories?: readonly string[];
  readonly packages?: readonly string[];
}

/** Everything a handler knows about the request it serves. */
export interface FormatRequestContext {
  readonly repository: RepositoryHandle;
  readonly method: string;
  /** Path inside the repository as received (still percent-encoded), starting with `/`. */
  readonly path: string;
  /** Route parameters, percent-decoded. Wildcards (`*rest`) are arrays of segments. */
  readonly params: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly query: URLSearchParams;
  /** Request headers, names lower-case. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** Body as the route's {@link BodySpec} declared it. */
  readonly body: unknown;
  readonly principal: Principal;
  /**
   * Absolute URL of the repository as the client addressed it, with a trailing slash
   * (for a request reaching a member through a group: the group's URL). Use it for
   * every URL written into metadata.
   */
  readonly baseUrl: string;
  readonly clientAddress: string;
  readonly requestId: string;
  readonly logger: Logger;
  /** Login and token services for the format's login endpoints. */
  readonly auth: FormatAuthService;
  /**
   * Record what this request did in the audit log (`publish`, `unpublish`, `tag`,
   * `untag`, `deprecate`, `delete`...); the host adds the principal, the repository, the
   * client address and the time. Never throws; never pass secrets.
   */
  audit(action: string, fields?: { readonly package?: string; readonly version?: string; readonly details?: Readonly<Record<string, unknown>> }): Promise<void>;
  /** For formats with `hostRoot`: how the client addressed this repository. */
  readonly hostRoot?: HostRootAddress;
  /**
   * Check that the principal has `permission` on this repository (and, when given, on
   * `packageName`); throws a 401 or 403 error otherwise.
   */
  authorize(permission: Permission, packageName?: string): void;
  /**
   * {@link authorize} as a question: whether the principal has `permission` here (and on
   * `packageName`). For lists that must leave out what the caller may not see (search).
   */
  allowed(permission: Permission, packageName?: string): boolean;
  /**
   * The owners of this repository's packages (see {@link PackageOwners}): who may publish
   * new versions of a name, change its metadata or delete it. The kernel checks them before
   * a write to a name reaches the format; a format reads and changes them for its client's
   * owner commands (`npm owner`).
   */
  readonly owners: PackageOwners;
}

/** A package owner as clients are shown one. */
export interface PackageOwner {
  readonly name: string;
  /** The user's email, when the registry knows one. */
  readonly email?: string;
}

/**
 * Package ownership, kept by the kernel per (repository, package name) for every format: the
 * first publisher of a name owns it; owners (and administrators) may write to it and change
 * its owners; everyone else's writes are refused before they reach the format. Names are
 * written as the format indexes its components (the `package` of its group plans).
 */
export interface PackageOwners {
  /** The owners of `packageName` in this repository, in the order they were added; empty: nobody owns it. */
  list(packageName: string): Promise<readonly PackageOwner[]>;
  /**
   * Add `user` as an owner (the request's principal must own the name or be an
   * administrator; the user must exist). Resolves the owners after the change.
   */
  add(packageName: string, user: string): Promise<readonly PackageOwner[]>;
  /**
   * Remove `user` (same rights as {@link add}); the last owner cannot be removed this way
   * (an administrator can, with the command line). Resolves the owners after the change.
   */
  remove(packageName: string, user: string): Promise<readonly PackageOwner[]>;
  /**
   * A user as an owner is shown (name, email), `undefined` for a user the registry does not
   * know: for a client that looks a user up before making it an owner. Anonymous requests
   * get `undefined` for everyone (emails are for signed-in users).
   */
  user(name: string): Promise<PackageOwner | undefined>;
}

/**
 * How a client addressed a repository of a format with `hostRoot` (OCI): at the host root
 * with the repository's name as the first segment (`http://h/v2/<repository>/...`), on the
 * repository's own port (`http://h:5000/v2/...`), or under its plain mount
 * (`http://h/<repository>/v2/...`).
 */
export interface HostRootAddress {
  /** Absolute URL of the protocol root as this client uses it, with a trailing slash. */
  readonly url: string;
  /**
   * What comes before names inside the protocol for this client: `<repository>/` at the
   * host root, empty on the repository's own port or plain mount.
   */
  readonly namePrefix: string;
}

/** One endpoint of a format, mounted by the host under each repository of that format. */
export interface RouteDefinition {
  readonly method: HttpMethod | readonly HttpMethod[];
  /**
   * Pattern relative to the repository root, in path-to-regexp v8 syntax:
   * `/-/ping`, `/:name`, `/*rest`. Routes are tried in the order given.
   */
  readonly path: string;
  /** Checked by the host before the handler runs; `none` for endpoints such as login. */
  readonly permission: Permission | 'none';
  /**
   * Where the request's credentials are. `header` (default): the host authenticates the
   * `Authorization` header (or the format's credential headers) and refuses bad ones with a
   * 401 before the route runs. `body`: the route judges credentials sent in its body (npm's
   * login, `PUT /-/user/org.couchdb.user:<name>`); a header the host would refuse (a token
   * revoked when the password changed, still in the client's config) does not refuse the
   * request, which runs as anonymous.
   */
  readonly credentials?: 'header' | 'body';
  /** Default `{ kind: 'none' }`. */
  readonly body?: BodySpec;
  /**
   * Answer a request on a hosted or proxy repository (and on a group whose plan is `group`):
   * one function for every kind, or one per kind ({@link HandlersByKind}), which the kernel
   * picks by the repository's type.
   */
  readonly handler: RouteHandler;
  /**
   * How a group repository answers this request (see {@link GroupPlan}): which package it
   * names and whether members' documents merge. Runs after the route's permission check and
   * body handling, in the group's context; throw to refuse (a malformed name). Default: the
   * handler runs on the group itself.
   */
  group?(ctx: FormatRequestContext): GroupPlan | Promise<GroupPlan>;
}

/**
 * A route's answer per kind of repository: the kernel calls the one for the repository the
 * request reaches (for a group's member, the member's kind) with the repository's handle
 * already narrowed, so a handler never tests the type itself. A kind without one answers
 * 404 for a read; a write never reaches a proxy (the kernel answers 405 first).
 */
export interface HandlersByKind {
  hosted?(ctx: FormatRequestContext, repository: HostedRepositoryHandle): Promise<FormatResponse>;
  proxy?(ctx: FormatRequestContext, repository: ProxyRepositoryHandle): Promise<FormatResponse>;
  /** On the group itself: only for routes whose group plan is `group` (login, ping). */
  group?(ctx: FormatRequestContext, repository: GroupRepositoryHandle): Promise<FormatResponse>;
}

/** A route's handler: one for every kind of repository, or one per kind. */
export type RouteHandler = ((ctx: FormatRequestContext) => Promise<FormatResponse>) | HandlersByKind;

/**
 * What a handler per kind does for `repository` (the kernel's one dispatch on a repository's
 * type): the function for its kind, or `undefined` when the route has none for it.
 */
export function byKind<C, R>(
  handlers: {
    hosted?(ctx: C, repository: HostedRepositoryHandle): R;
    proxy?(ctx: C, repository: ProxyRepositoryHandle): R;
    group?(ctx: C, repository: GroupRepositoryHandle): R;
  },
  repository: RepositoryHandle,
): ((ctx: C) => R) | undefined {
  switch (repository.type) {
    case 'hosted':
      return handlers.hosted ? (ctx) => handlers.hosted!(ctx, repository) : undefined;
    case 'proxy':
      return handlers.proxy ? (ctx) => handlers.proxy!(ctx, repository) : undefined;
    case 'group':
      return handlers.group ? (ctx) => handlers.group!(ctx, repository) : undefined;
  }
}

/**
 * Run a route's handler for the request of `ctx`, as the kernel does: a handler per kind
 * without one for this repository's kind is a 404 naming the kind.
 */
export function runHandler(handler: RouteHandler, ctx: FormatRequestContext): Promise<FormatResponse> {
  if (typeof handler === 'function') return handler(ctx);
  const run = byKind(handler, ctx.repository);
  if (!run) throw new NotFoundError(`${ctx.method} ${ctx.path} is not served by ${ctx.repository.type} repositories (${ctx.repository.name} is one)`);
  return run(ctx);
}

/**
 * Read a small request body (a manifest, a POM) from a `stream` route into memory, refused
 * with a PayloadTooLargeError naming `what` past `maxBytes` (the stream is then destroyed).
 * Artifacts are never read this way: they stream to storage.
 */
export async function readSmallBody(stream: Readable, maxBytes: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      stream.destroy();
      throw new PayloadTooLargeError(`${what} is over the ${maxBytes}-byte limit`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * A route parameter as one string: a wildcard segment list (`:path+`, `*`) joined with `/`,
 * `undefined` when the route has no such parameter or it did not match.
 */
export function routeParam(ctx: { readonly params: Readonly<Record<string, string | readonly string[] | undefined>> }, key: string): string | undefined {
  const value = ctx.params[key];
  return Array.isArray(value) ? value.join('/') : (value as string | undefined);
}

/**
 * Shorthand for a JSON response. The kernel serialises `value` as JSON.stringify does, in
 * slices that yield to the event loop, so a large value holds no other request for long;
 * an answer served often is better rendered once ({@link DerivedCache.renderJson}).
 */
export function jsonResponse(value: unknown, init?: Omit<FormatResponse, 'body'> & { contentType?: string }): FormatResponse {
  const { contentType, ...rest } = init ?? {};
  return { ...rest, body: { kind: 'json', value, ...(contentType ? { contentType } : {}) } };
}

/** Shorthand for serving an answer the kernel rendered ({@link DerivedCache.renderJson}, {@link DerivedCache.renderText}); content type default `application/json; charset=utf-8` (give a text's own). */
export function renderedResponse(rendered: RenderedJson, init?: Omit<FormatResponse, 'body'> & { contentType?: string }): FormatResponse {
  const { contentType, ...rest } = init ?? {};
  return { ...rest, body: { kind: 'rendered', rendered, ...(contentType ? { contentType } : {}) } };
}

/** Shorthand for serving a stored asset. */
export function assetResponse(asset: Asset, init?: Omit<FormatResponse, 'body'>): FormatResponse {
  return { ...init, body: { kind: 'asset', asset } };
}
