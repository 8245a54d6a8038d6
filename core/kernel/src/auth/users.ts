import { createHash } from 'node:crypto';
import { ConflictError, ForbiddenError, NotFoundError, type AuthenticatedUser, type AuthProvider } from '@registry-core/api';
import type { AuthConfig } from '../config/types.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import { actorFields, type AuditActor, type AuditLog } from './audit-log.js';
import { hashPassword } from './password.js';
import type { UserTokens } from './tokens.js';

const USER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$/;

/** Options of a new user. */
export interface NewUserOptions {
  readonly email?: string;
  readonly roles?: string[];
  readonly selfRegistration?: boolean;
  readonly actor?: AuditActor;
}

/**
 * The users the registry knows: static ones from the config (password hashes), stored ones
 * in the metadata store, and those of auth-provider plugins. Creates users, changes
 * passwords, tells roles. Whoever caches checked passwords subscribes to
 * {@link onPasswordChanged}.
 */
export class Users {
  private readonly passwordListeners: Array<() => void> = [];

  constructor(
    private readonly config: Pick<AuthConfig, 'users' | 'allowRegistration'>,
    private readonly metadata: MetadataStore,
    private readonly providers: readonly AuthProvider[],
    private readonly tokens: UserTokens,
    private readonly audit: AuditLog,
  ) {}

  /** Called after a password change made through this process. */
  onPasswordChanged(listener: () => void): void {
    this.passwordListeners.push(listener);
  }

  /** Another worker of this node changed a password or roles: tell the listeners as if it had been here. */
  changedElsewhere(): void {
    for (const listener of this.passwordListeners) listener();
  }

  /** The password hash, roles and standing of a config or stored user (provider users have none here). */
  async credentialsOf(name: string): Promise<{ passwordHash: string; roles: string[]; disabled: boolean } | undefined> {
    const fromConfig = this.config.users[name];
    if (fromConfig) return { passwordHash: fromConfig.passwordHash, roles: [...fromConfig.roles], disabled: false };
    const stored = await this.metadata.users.findOneBy({ name });
    return stored ? { passwordHash: stored.passwordHash, roles: JSON.parse(stored.roles) as string[], disabled: isDisabled(stored) } : undefined;
  }

  /**
   * What changes when a user's password does, for binding access tokens to a password
   * login: the time of the last change of a stored user, a digest of a config user's hash;
   * a constant for users of providers (they tell no changes). Undefined for an unknown user.
   */
  async passwordEpochOf(name: string): Promise<string | undefined> {
    const fromConfig = this.config.users[name];
    if (fromConfig) return `c:${createHash('sha256').update(fromConfig.passwordHash).digest('hex').slice(0, 16)}`;
    const stored = await this.metadata.users.findOneBy({ name });
    // A disabled user's epoch is another one: what was bound to the password (access tokens,
    // remembered password checks) stops while the user is disabled, and holds again once enabled.
    if (stored) return `s:${stored.passwordChangedAt}${isDisabled(stored) ? ':disabled' : ''}`;
    return (await this.rolesOf(name)) !== undefined ? 'provider' : undefined;
  }

  /** Create a user in the metadata store (CLI, self-registration). */
  async add(name: string, password: string, options: NewUserOptions = {}): Promise<AuthenticatedUser> {
    const user = await this.create(name, password, options);
    await this.audit.record({ action: 'user.create', ...actorFields(options.actor), details: { user: name, roles: user.roles, selfRegistration: options.selfRegistration ?? false } });
    return user;
  }

  private async create(name: string, password: string, options: NewUserOptions): Promise<AuthenticatedUser> {
    // Existence first: a known user with a mistyped password must hear "exists", not "registration disabled".
    if (this.config.users[name] || (await this.metadata.users.findOneBy({ name }))) throw new ConflictError(`user ${name} already exists`);
    if (options.selfRegistration && !this.config.allowRegistration) throw new ForbiddenError('self-registration is disabled on this registry');
    if (!USER_NAME.test(name)) throw new ForbiddenError(`invalid user name "${name}"`);
    if (password.length < 8) throw new ForbiddenError('password must have at least 8 characters');
    for (const provider of this.providers) {
      if (provider.addUser) {
        const created = await provider.addUser(name, password, { email: options.email });
        if (created === false) throw new ConflictError(`user ${name} already exists`);
        return created;
      }
    }
    const now = Date.now();
    const roles = options.roles ?? [];
    await this.metadata.users.insert({
      name,
      passwordHash: await hashPassword(password),
      roles: JSON.stringify(roles),
      email: options.email ?? null,
      createdAt: now,
      passwordChangedAt: now,
    });
    return { name, roles };
  }

  /** Change a stored user's password; tokens issued before stop working. */
  async setPassword(name: string, password: string, actor?: AuditActor): Promise<void> {
    const stored = await this.metadata.users.findOneBy({ name });
    if (!stored) throw new ConflictError(`no stored user ${name}`);
    if (password.length < 8) throw new ForbiddenError('password must have at least 8 characters');
    await this.metadata.users.update({ name }, { passwordHash: await hashPassword(password), passwordChangedAt: Date.now() });
    const revoked = await this.tokens.revokeAllOf(name);
    for (const listener of this.passwordListeners) listener();
    await this.audit.record({ action: 'user.password', ...actorFields(actor), details: { user: name, tokensRevoked: revoked } });
  }

  /**
   * Change a stored user's roles. What tokens and logins resolved to is forgotten at once
   * (the same listeners as a password change), so the new roles hold from the next request.
   */
  async setRoles(name: string, roles: readonly string[], actor?: AuditActor): Promise<void> {
    const stored = await this.metadata.users.findOneBy({ name });
    if (!stored) throw new ConflictError(`no stored user ${name}`);
    await this.metadata.users.update({ name }, { roles: JSON.stringify(roles) });
    for (const listener of this.passwordListeners) listener();
    await this.audit.record({ action: 'user.roles', ...actorFields(actor), details: { user: name, roles: [...roles] } });
  }

  /**
   * Disable (or enable again) a stored user: while disabled, its password logins and every
   * kind of token it holds are refused (401), on this node at once (the same listeners as a
   * password change), on others within the trust window (`auth.cacheSeconds`). Its tokens
   * are kept: enabling gives them back. Config users are disabled by editing the config.
   */
  async setDisabled(name: string, disabled: boolean, actor?: AuditActor): Promise<void> {
    if (this.config.users[name]) throw new ConflictError(`user ${name} is defined in the config file: remove it there`);
    const stored = await this.metadata.users.findOneBy({ name });
    if (!stored) throw new NotFoundError(`no stored user ${name}`);
    if (disabled && actor?.principal === name) throw new ForbiddenError('an administrator cannot disable themselves');
    if (isDisabled(stored) !== disabled) await this.metadata.users.update({ name }, { disabledAt: disabled ? Date.now() : null });
    for (const listener of this.passwordListeners) listener();
    await this.audit.record({ action: disabled ? 'user.disable' : 'user.enable', ...actorFields(actor), details: { user: name } });
  }

  /** The users of the config and of the metadata store (never their password hashes), by name. */
  async list(): Promise<{ name: string; roles: string[]; email?: string; createdAt?: Date; disabled?: true; source: 'config' | 'stored' }[]> {
    const stored = await this.metadata.users.find({ order: { name: 'ASC' } });
    const fromConfig = Object.entries(this.config.users).map(([name, user]) => ({ name, roles: [...user.roles], source: 'config' as const }));
    const fromStore = stored
      .filter((u) => !this.config.users[u.name])
      .map((u) => ({
        name: u.name,
        roles: JSON.parse(u.roles) as string[],
        ...(u.email ? { email: u.email } : {}),
        createdAt: new Date(u.createdAt),
        ...(isDisabled(u) ? { disabled: true as const } : {}),
        source: 'stored' as const,
      }));
    return [...fromConfig, ...fromStore].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async exists(name: string): Promise<boolean> {
    return !!this.config.users[name] || !!(await this.metadata.users.findOneBy({ name }));
  }

  /** A user's roles; undefined for a user nobody knows. */
  async rolesOf(name: string): Promise<string[] | undefined> {
    return (await this.standingOf(name))?.roles;
  }

  /** A user's roles and whether it is disabled (one query); undefined for a user nobody knows. */
  async standingOf(name: string): Promise<{ roles: string[]; disabled: boolean } | undefined> {
    const known = await this.credentialsOf(name);
    if (known) return { roles: known.roles, disabled: known.disabled };
    // Users of provider plugins are not stored: their roles come from the provider that
    // knows them; a provider that cannot tell gives its users' tokens no roles.
    for (const provider of this.providers) {
      const roles = await provider.rolesOf?.(name);
      if (roles) return { roles: [...roles], disabled: false };
    }
    return this.providers.length > 0 ? { roles: [], disabled: false } : undefined;
  }
}

function isDisabled(row: { disabledAt?: number | null }): boolean {
  return row.disabledAt !== null && row.disabledAt !== undefined;
}
