import type { IncomingMessage } from 'node:http';
import {
  BadRequestError,
  ForbiddenError,
  MethodNotAllowedError,
  NotFoundError,
  isRegistryError,
  loadDocument,
  runHandler,
  type FormatAuthService,
  type FormatCapability,
  type FormatDefinition,
  type FormatRequestContext,
  type FormatResponse,
  type HostRootAddress,
  type Permission,
  RegistryError,
  type Logger,
  type Principal,
  type RepositoryHandle,
  type RepositoryInfo,
  type RouteDefinition,
} from '@registry-core/api';
import type { AuthService } from '../auth/auth-service.js';
import { isAdmin } from '../auth/package-owners.js';
import type { RepositoryConfig } from '../config/types.js';
import { markServedBy } from '../analytics/served-downloads.js';
import { readRequestBody } from './body.js';
import type { FormatRouter } from './format-router.js';
import { GroupRouter } from './group-router.js';
import type { KernelProxyCache } from '../engine/proxy-cache.js';

/** A configured repository with everything needed to serve it. */
export interface RepositoryRuntime {
  readonly name: string;
  readonly config: RepositoryConfig;
  readonly format: FormatDefinition;
  readonly router: FormatRouter;
  readonly handle: RepositoryHandle;
  /** The opt-in parts of the contract its format declared in its manifest. */
  readonly capabilities: ReadonlySet<FormatCapability>;
  /** A proxy's cache, for the kernel's own bookkeeping (stats, shutdown). */
  readonly proxy?: KernelProxyCache;
  /** What the group policy makes of it: whether writes land (a hosted leaf) and names reach an upstream (a proxy leaf). */
  readonly facts: RepositoryFacts;
}

/** See {@link RepositoryInfo.takesWrites} and {@link RepositoryInfo.reachesUpstream}. */
export type RepositoryFacts = Pick<RepositoryInfo, 'takesWrites' | 'reachesUpstream'>;

/** A repository as a format's hooks see it, at `url`. */
export function repositoryInfo(runtime: Pick<RepositoryRuntime, 'name' | 'config' | 'facts'>, url: string): RepositoryInfo {
  return { name: runtime.name, format: runtime.config.format, type: runtime.config.type, url, config: runtime.config, ...runtime.facts };
}

/** A request as the dispatcher sees it, from koa or from a group. */
export interface DispatchRequest {
  readonly method: string;
  /** Path inside the repository, still percent-encoded, starting with `/`. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly principal: Principal;
  readonly baseUrl: string;
  readonly clientAddress: string;
  readonly requestId: string;
  readonly logger: Logger;
  /** The raw request (client requests); absent for group sub-requests. */
  readonly raw?: IncomingMessage;
  /** Body already in hand (group members' requests). */
  readonly body?: unknown;
  /** How the client addressed a repository of a `hostRoot` format. */
  readonly hostRoot?: HostRootAddress;
  /**
   * Where every permission decision made for this request (and its group members'
   * sub-requests) is noted, allowed or not: the hot path replays an authenticated answer
   * only while the same decisions still come out the same way.
   */
  readonly decisions?: AccessDecision[];
}

/** One permission decision an answer depended on. */
export interface AccessDecision {
  readonly permission: Permission;
  readonly repository: { readonly name: string; readonly anonymousRead?: boolean };
  readonly packageName?: string;
  readonly allowed: boolean;
}

/**
 * Finds the route of a repository's format, enforces its permission and body spec, and
 * runs its handler. Group sub-requests come through here too, so members answer a group
 * exactly as they answer clients.
 */
export class Dispatcher {
  constructor(
    private readonly repositories: ReadonlyMap<string, RepositoryRuntime>,
    private readonly auth: AuthService,
    /** Where spilled request bodies go (inside dataDir, on the same disk as the data). */
    private readonly tmpDir: string,
    private readonly depth = 0,
    private readonly groups = new GroupRouter(repositories),
  ) {}

  async dispatch(runtime: RepositoryRuntime, request: DispatchRequest): Promise<FormatResponse> {
    const response = await this.operate(runtime, request, (route, ctx) => this.answer(runtime, request, route, ctx));
    // Which repository holds a file a group answers with: its download is that member's.
    markServedBy(response, runtime.name);
    return response;
  }

  /**
   * Match the route, check its permission, read its body and build the handler's context,
   * then run `operation` on it (the handler, a group's plan, or a mergeable route's `load`
   * for a group reading a member).
   */
  private async operate<R>(runtime: RepositoryRuntime, request: DispatchRequest, operation: (route: RouteDefinition, ctx: FormatRequestContext) => Promise<R>): Promise<R> {
    const found = runtime.router.find(request.method, request.path);
    if (found === undefined) throw new NotFoundError(`no such endpoint in ${runtime.name}: ${request.method} ${request.path}`);
    if (found === 'methodNotAllowed') throw new MethodNotAllowedError(`${request.method} is not supported on ${request.path}`);
    const { route, params } = found;
    const target = { name: runtime.name, anonymousRead: runtime.config.anonymousRead };
    // The permission of the last check, for the format's challenge when it fails with 401.
    let asked: Permission = route.permission === 'none' ? 'read' : route.permission;
    // Every decision is noted for the hot path (see `DispatchRequest.decisions`).
    const decide = (permission: Permission, packageName?: string) => {
      try {
        this.auth.authorize(request.principal, permission, target, packageName);
      } catch (error) {
        request.decisions?.push({ permission, repository: target, ...(packageName !== undefined ? { packageName } : {}), allowed: false });
        throw error;
      }
      request.decisions?.push({ permission, repository: target, ...(packageName !== undefined ? { packageName } : {}), allowed: true });
    };
    const check = (permission: Permission, packageName?: string) => {
      asked = permission;
      decide(permission, packageName);
    };
    try {
      return await this.run(runtime, request, route, params, check, decide, operation);
    } catch (error) {
      throw this.withChallenge(error, runtime, request, params, asked);
    }
  }

  /** A group answers by its route's plan (the kernel's group policy); others by the handler. */
  private answer(runtime: RepositoryRuntime, request: DispatchRequest, route: RouteDefinition, ctx: FormatRequestContext): Promise<FormatResponse> {
    if (runtime.config.type !== 'group' || !route.group) return runHandler(route.handler, ctx);
    const memberRequest = (member: RepositoryRuntime): DispatchRequest => ({
      ...request,
      raw: undefined,
      body: ctx.body,
      logger: request.logger.child({ member: member.name }),
    });
    const nested = new Dispatcher(this.repositories, this.auth, this.tmpDir, this.depth + 1, this.groups);
    // A member that broke (not a RegistryError) is logged here in its own words; the group's
    // answer says only that it failed.
    const logged = <T>(member: RepositoryRuntime, answer: Promise<T>): Promise<T> =>
      answer.catch((error: unknown) => {
        if (!isRegistryError(error)) request.logger.error('group member failed', { member: member.name, error: String((error as Error)?.stack ?? error) });
        throw error;
      });
    return this.groups.serve(runtime, route, ctx, {
      handle: (member) => logged(member, nested.dispatch(member, memberRequest(member))),
      load: (member, merge) => logged(member, nested.operate(member, memberRequest(member), (_route, memberCtx) => loadDocument(merge, memberCtx))),
      refused: (fields) =>
        this.auth.audit.record({
          action: 'group.write-refused',
          outcome: 'denied',
          principal: request.principal.name,
          repository: runtime.name,
          clientAddress: request.clientAddress,
          package: fields.package,
          details: { ...(fields.member ? { member: fields.member } : {}), status: fields.status, reason: fields.reason },
        }),
    });
  }

  /**
   * A 401 carries the format's challenge for the request refused (OCI names the scope to
   * ask a token for); the host's generic challenge applies when the format has none.
   */
  private withChallenge(error: unknown, runtime: RepositoryRuntime, request: DispatchRequest, params: Readonly<Record<string, string | readonly string[] | undefined>>, permission: Permission): unknown {
    if (!isRegistryError(error) || error.status !== 401 || !runtime.format.authChallenge) return error;
    if (Object.keys(error.headers).some((h) => h.toLowerCase() === 'www-authenticate')) return error;
    const info = repositoryInfo(runtime, request.baseUrl);
    const challenge = runtime.format.authChallenge(info, { method: request.method, path: request.path, params, permission, ...(request.hostRoot ? { hostRoot: request.hostRoot } : {}) });
    if (!challenge) return error;
    return new RegistryError(error.code, error.message, 401, { cause: error, headers: { ...error.headers, 'WWW-Authenticate': challenge } });
  }

  private async run<R>(
    runtime: RepositoryRuntime,
    request: DispatchRequest,
    route: RouteDefinition,
    params: Readonly<Record<string, string | readonly string[] | undefined>>,
    /** Authorize (a failure's 401 names this permission in the format's challenge)... */
    check: (permission: Permission, packageName?: string) => void,
    /** ...or only decide (what `allowed` asks). Both note the decision. */
    decide: (permission: Permission, packageName?: string) => void,
    operation: (route: RouteDefinition, ctx: FormatRequestContext) => Promise<R>,
  ): Promise<R> {
    // A proxy takes no writes, whatever the format: its content is its upstream's.
    if (runtime.config.type === 'proxy' && (route.permission === 'write' || route.permission === 'delete')) {
      request.raw?.resume();
      throw new MethodNotAllowedError(`${runtime.name} is a proxy: ${request.method} ${request.path} goes to a hosted repository (or a group with one)`);
    }
    // Checked on every repository, group members included: reading through a group never
    // bypasses a member's own rules (a private hosted member stays private).
    if (route.permission !== 'none') check(route.permission);
    let body = request.body;
    let cleanup: (() => Promise<void>) | undefined;
    if (request.raw) {
      const jsonLimit = Math.ceil(runtime.config.maxUploadBytes * 1.37) + 1024 * 1024;
      const read = await readRequestBody(request.raw, route.body, jsonLimit, this.tmpDir, runtime.config.maxUploadBytes);
      body = read.value;
      cleanup = read.cleanup;
    }
    const ctx: FormatRequestContext = {
      repository: runtime.handle,
      method: request.method,
      path: request.path,
      params,
      query: request.query,
      headers: request.headers,
      body,
      principal: request.principal,
      baseUrl: request.baseUrl,
      clientAddress: request.clientAddress,
      requestId: request.requestId,
      logger: request.logger,
      ...(request.hostRoot ? { hostRoot: request.hostRoot } : {}),
      auth: formatAuth(this.auth.forRequest({ principal: request.principal, clientAddress: request.clientAddress }), runtime),
      audit: (action, fields) =>
        this.auth.audit.record({ action, principal: request.principal.name, repository: runtime.name, clientAddress: request.clientAddress, ...fields }),
      authorize: (permission, packageName) => check(permission, packageName),
      allowed: (permission, packageName) => {
        try {
          decide(permission, packageName);
          return true;
        } catch (error) {
          if (isRegistryError(error) && (error.status === 401 || error.status === 403)) return false;
          throw error;
        }
      },
      owners: this.auth.owners.forRequest(request.principal, runtime.name),
    };
    try {
      const claim = await this.guardWrite(runtime, request, route, ctx);
      try {
        return await operation(route, ctx);
      } catch (error) {
        // A name this write claimed is released again when the write did not happen.
        if (claim) await this.auth.owners.releaseClaim(runtime.name, claim, request.principal.name).catch(() => undefined);
        throw error;
      }
    } finally {
      await cleanup?.();
    }
  }

  /**
   * The kernel's checks before a write or delete of one package reaches a hosted
   * repository's format (the package as the route's group plan names it): package ownership
   * (see PackageOwnership), and for a name new here, that no proxy of a group this
   * repository is in serves it already. Resolves the name when this write claimed it.
   */
  private async guardWrite(runtime: RepositoryRuntime, request: DispatchRequest, route: RouteDefinition, ctx: FormatRequestContext): Promise<string | undefined> {
    if (runtime.config.type !== 'hosted' || !route.group || (route.permission !== 'write' && route.permission !== 'delete')) return undefined;
    const plan = await route.group(ctx);
    if (plan.serve !== 'package') return undefined;
    const name = plan.package;
    let fresh: boolean | undefined;
    const isNew = async () => (fresh ??= (await runtime.handle.components.versions(name)).length === 0);
    try {
      if (route.permission === 'write' && !isAdmin(request.principal) && (await isNew())) await this.refuseShadowing(runtime, name, request);
      const clearance = await this.auth.owners.beforeWrite(request.principal, runtime.name, name, { claim: route.permission === 'write', isNew });
      return clearance.claimed ? name : undefined;
    } catch (error) {
      if (isRegistryError(error) && error.status !== 404) {
        await this.auth.audit.record({
          action: 'ownership.refused',
          outcome: 'denied',
          principal: request.principal.name,
          repository: runtime.name,
          clientAddress: request.clientAddress,
          package: name,
          details: { status: error.status, reason: error.message },
        });
      }
      throw error;
    }
  }

  /**
   * Refuse a name new to hosted repository `runtime` that a proxy member of one of its groups
   * serves (a hosted name shadows the upstream's for every client of the group), unless the
   * group's `routing` claims it for this repository. Fails closed: a proxy that cannot be
   * asked refuses the write too.
   */
  private async refuseShadowing(runtime: RepositoryRuntime, name: string, request: DispatchRequest): Promise<void> {
    const path = runtime.format.packageDocumentPath?.(name);
    if (path === undefined) return;
    const asked = new Map<string, Promise<boolean>>();
    for (const { group, proxies } of this.groups.shadowed(runtime.name, name)) {
      for (const proxy of proxies) {
        if (!asked.has(proxy.name)) asked.set(proxy.name, this.proxyServes(proxy.runtime, path, name, request));
        let serves: boolean;
        try {
          serves = await asked.get(proxy.name)!;
        } catch (error) {
          throw new RegistryError(
            'SHADOW_CHECK_FAILED',
            `cannot publish ${name} to ${runtime.name}: ${proxy.name} (a proxy in group ${group}) could not be asked whether its upstream serves ${name} (${error instanceof Error ? error.message : String(error)}); a new name is published only once no upstream of the group serves it. Retry, claim the name for ${runtime.name} in the routing of ${group}, or ask an administrator`,
            503,
            { cause: error },
          );
        }
        if (serves) {
          throw new ForbiddenError(
            `${name} is served by ${proxy.name}, a proxy in group ${group}: publishing it to ${runtime.name} would shadow that package for every client of ${group}. ` +
              `If the name is yours, claim it for ${runtime.name} in the group's routing (routing: { "${name}": [${runtime.name}] }), or ask an administrator to publish it`,
          );
        }
      }
    }
  }

  /** Whether a proxy serves a package: its document answers (404: it does not; other failures throw). */
  private async proxyServes(proxy: RepositoryRuntime, path: string, name: string, request: DispatchRequest): Promise<boolean> {
    try {
      const response = await this.dispatch(proxy, {
        method: 'GET',
        path,
        query: new URLSearchParams(),
        // Any representation: the question is only whether the document exists (a PyPI
        // simple page refuses a bare application/json).
        headers: { accept: '*/*' },
        principal: KERNEL_PRINCIPAL,
        baseUrl: request.baseUrl,
        clientAddress: request.clientAddress,
        requestId: request.requestId,
        logger: request.logger.child({ member: proxy.name, check: 'shadowing' }),
      });
      if (response.body?.kind === 'stream') response.body.value.destroy();
      const status = response.status ?? 200;
      if (status === 404) return false;
      if (status >= 200 && status < 400) return true;
      throw new Error(`it answered ${status} for ${name}`);
    } catch (error) {
      if (isRegistryError(error) && error.status === 404) return false;
      throw error;
    }
  }
}

/** Who the kernel's own lookups run as (asking a proxy whether it serves a name). */
const KERNEL_PRINCIPAL: Principal = { name: 'registry-core', anonymous: false, roles: ['admin'], via: 'password', readOnly: false };

/** The login and token services as far as the format declared them (`login`, `accessTokens`). */
function formatAuth(service: FormatAuthService, runtime: RepositoryRuntime): FormatAuthService {
  const login = runtime.capabilities.has('login');
  const tokens = runtime.capabilities.has('accessTokens');
  if (login && tokens) return service;
  const refuse = (capability: FormatCapability) => () => {
    throw new Error(`format ${runtime.config.format} uses ${capability} without declaring the "${capability}" capability in its manifest`);
  };
  return {
    login: login ? service.login.bind(service) : refuse('login'),
    addUser: login ? service.addUser.bind(service) : refuse('login'),
    revokeToken: login ? service.revokeToken.bind(service) : refuse('login'),
    createToken: login ? service.createToken.bind(service) : refuse('login'),
    listTokens: login ? service.listTokens.bind(service) : refuse('login'),
    revokeTokenById: login ? service.revokeTokenById.bind(service) : refuse('login'),
    issueAccessToken: tokens ? service.issueAccessToken.bind(service) : refuse('accessTokens'),
  };
}
