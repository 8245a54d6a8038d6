import type { AccessGrant, AuthenticatedUser, AuthProvider, FormatAuthService, Permission, Principal } from '@registry-core/api';
import type { AuthConfig } from '../config/types.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import { AccessTokens } from './access-tokens.js';
import { AuditLog, type AuditActor } from './audit-log.js';
import { Authentication } from './authentication.js';
import { Authorization, type RepositoryFacts } from './authorization.js';
import { formatAuthService } from './format-auth.js';
import { PackageOwnership } from './package-owners.js';
import { UserTokens, type NewTokenOptions, type TokenInfo } from './tokens.js';
import { Users, type NewUserOptions } from './users.js';

export type { TokenInfo } from './tokens.js';

/**
 * The kernel's auth, one object for the callers that want all of it (the CLI, the
 * dispatcher, tests): it wires {@link Authentication} (credentials to a principal),
 * {@link Authorization} (who may do what), {@link Users}, {@link UserTokens} and the
 * audit log over one metadata store, and forwards to them. Each part is also reachable
 * on its own.
 */
export class AuthService {
  /** Who did what: logins, users and tokens here; publishes and the like from formats. */
  readonly audit: AuditLog;
  readonly users: Users;
  readonly tokens: UserTokens;
  readonly accessTokens: AccessTokens;
  readonly authentication: Authentication;
  readonly authorization: Authorization;
  /** Who owns which package of which repository. */
  readonly owners: PackageOwnership;

  constructor(config: AuthConfig, metadata: MetadataStore, providers: readonly AuthProvider[] = [], onAuditError?: (error: unknown) => void) {
    this.audit = new AuditLog(metadata, onAuditError);
    this.tokens = new UserTokens(config, metadata, this.audit);
    this.users = new Users(config, metadata, providers, this.tokens, this.audit);
    this.accessTokens = new AccessTokens(metadata);
    this.authentication = new Authentication(this.users, this.tokens, this.accessTokens, providers, this.audit, (config.cacheSeconds ?? 5) * 1000);
    this.authorization = new Authorization(config);
    this.owners = new PackageOwnership(metadata, this.users, this.audit);
  }

  /** See {@link Authorization.useRepositories}. */
  useRepositories(facts: RepositoryFacts): void {
    this.authorization.useRepositories(facts);
  }

  /** See {@link Authorization.grantable}. */
  grantable(principal: Principal, requested: readonly AccessGrant[]): AccessGrant[] {
    return this.authorization.grantable(principal, requested);
  }

  /** See {@link Authorization.authorize}. */
  authorize(principal: Principal, permission: Permission, repository: { name: string; anonymousRead?: boolean }, packageName?: string): void {
    this.authorization.authorize(principal, permission, repository, packageName);
  }

  /** The login and token services of a format's login endpoints, for one request. */
  forRequest(context: { principal: Principal; clientAddress: string }): FormatAuthService {
    return formatAuthService(this, context);
  }

  /** See {@link Authentication.authenticate}. */
  authenticate(header: string | undefined, clientAddress?: string): Promise<Principal> {
    return this.authentication.authenticate(header, clientAddress);
  }

  /** See {@link Authentication.checkPassword}. */
  checkPassword(name: string, password: string, clientAddress?: string): Promise<AuthenticatedUser | undefined> {
    return this.authentication.checkPassword(name, password, clientAddress);
  }

  /** See {@link Users.add}. */
  addUser(name: string, password: string, options: NewUserOptions = {}): Promise<AuthenticatedUser> {
    return this.users.add(name, password, options);
  }

  /** See {@link Users.setPassword}. */
  setPassword(name: string, password: string, actor?: AuditActor): Promise<void> {
    return this.users.setPassword(name, password, actor);
  }

  /** See {@link Users.setDisabled}. */
  setUserDisabled(name: string, disabled: boolean, actor?: AuditActor): Promise<void> {
    return this.users.setDisabled(name, disabled, actor);
  }

  userExists(name: string): Promise<boolean> {
    return this.users.exists(name);
  }

  /** See {@link UserTokens.create}. */
  createToken(user: string, options: NewTokenOptions = {}): Promise<{ token: string; info: TokenInfo }> {
    return this.tokens.create(user, options);
  }

  listTokens(user?: string): Promise<TokenInfo[]> {
    return this.tokens.list(user);
  }

  /** See {@link UserTokens.revokeOwn}. */
  revokeOwnToken(token: string, user: string): Promise<boolean> {
    return this.tokens.revokeOwn(token, user);
  }

  /** See {@link UserTokens.revoke}. */
  revokeToken(tokenOrId: string, actor?: AuditActor): Promise<boolean> {
    return this.tokens.revoke(tokenOrId, actor);
  }
}
