import { ForbiddenError, UnauthorizedError, type AccessGrant, type Permission, type Principal } from '@registry-core/api';
import type { AuthConfig } from '../config/types.js';
import { grantsAllow } from './access-tokens.js';
import { PermissionRules, globToRegExp } from './permissions.js';

/** What the permission checks need to know of a repository. */
export type RepositoryFacts = (name: string) => { anonymousRead?: boolean; members?: readonly string[] } | undefined;

/**
 * Who may do what: a principal's permission on a repository (and a package in it) from the
 * token's limits, the roles, the repository's `anonymousRead` and the config's
 * `auth.permissions`; and of requested grants, those a principal may be given.
 */
export class Authorization {
  private readonly rules: PermissionRules;
  /** Repositories as the permission checks of access tokens need them (set by the registry). */
  private repositoryFacts: RepositoryFacts = () => undefined;

  constructor(private readonly config: Pick<AuthConfig, 'permissions' | 'anonymousRead'>) {
    this.rules = new PermissionRules(config.permissions);
  }

  /** Tell the checks which repositories exist (their anonymous-read setting and group members). */
  useRepositories(facts: RepositoryFacts): void {
    this.repositoryFacts = facts;
  }

  /**
   * Of `requested`, what `principal` may do now; a grant on a group extends to its members
   * (recursively) with the actions the principal has there, since a group serves through them.
   */
  grantable(principal: Principal, requested: readonly AccessGrant[]): AccessGrant[] {
    const out: AccessGrant[] = [];
    const visit = (grant: AccessGrant, depth: number) => {
      const facts = this.repositoryFacts(grant.repository);
      if (!facts || depth > 8) return;
      const target = { name: grant.repository, ...(facts.anonymousRead !== undefined ? { anonymousRead: facts.anonymousRead } : {}) };
      const actions = [...new Set(grant.actions)].filter((action) => {
        try {
          this.authorize(principal, action, target, grant.package);
          return true;
        } catch {
          return false;
        }
      });
      if (actions.length === 0) return;
      out.push({ repository: grant.repository, ...(grant.package !== undefined ? { package: grant.package } : {}), actions });
      for (const member of facts.members ?? []) visit({ ...grant, repository: member, actions }, depth + 1);
    };
    for (const grant of requested) visit(grant, 0);
    return out;
  }

  /**
   * Whether `principal` is given now what each of `decisions` was given, and refused what
   * each was refused (the hot path's check before replaying an authenticated answer).
   */
  decidesAlike(principal: Principal, decisions: readonly { permission: Permission; repository: { name: string; anonymousRead?: boolean }; packageName?: string; allowed: boolean }[]): boolean {
    return decisions.every((d) => {
      try {
        this.authorize(principal, d.permission, d.repository, d.packageName);
        return d.allowed;
      } catch {
        return !d.allowed;
      }
    });
  }

  /**
   * Throw 401 (no credentials) or 403 (not enough) unless `principal` may do `permission`
   * on a repository, and on `packageName` there when given. Order: a read-only token never
   * writes; the `admin` role may do everything; a repository's own `anonymousRead` decides
   * anonymous reads; then the config's `auth.permissions` rules; where no rule speaks, the
   * defaults (reads as `auth.anonymousRead` says, write and delete for any signed-in user,
   * admin for the admin role).
   */
  authorize(principal: Principal, permission: Permission, repository: { name: string; anonymousRead?: boolean }, packageName?: string): void {
    const what = packageName === undefined ? repository.name : `${packageName} in ${repository.name}`;
    const deny = (): never => {
      if (principal.anonymous) throw new UnauthorizedError(`authentication required to ${permission} ${what}`);
      throw new ForbiddenError(`${principal.name} may not ${permission === 'admin' ? 'administer' : permission} ${what}`);
    };
    // An access token does only what it grants, reads included. When its holder may do it,
    // 401, so that the client asks for a token with the scope the challenge names; when the
    // holder may not, the holder's own refusal (403): no token would help.
    if (principal.grants && !grantsAllow(principal.grants, permission, repository.name, packageName)) {
      const { grants: _grants, ...holder } = principal;
      this.authorize(holder, permission, repository, packageName);
      throw new UnauthorizedError(`the access token used does not grant ${permission} on ${what}`);
    }
    if (permission !== 'read' && principal.anonymous && this.rules.decide(principal, permission, repository.name, packageName) !== true) deny();
    if (permission !== 'read' && principal.readOnly && !principal.anonymous) {
      throw new ForbiddenError(`the token used is read-only; ${permission} in ${repository.name} needs a read-write token`);
    }
    if (permission !== 'read' && principal.scope) {
      const { repositories, packages } = principal.scope;
      if (repositories && !repositories.some((glob) => globToRegExp(glob).test(repository.name))) {
        throw new ForbiddenError(`the token used is limited to ${repositories.join(', ')}; not valid to ${permission} in ${repository.name}`);
      }
      if (packages && packageName !== undefined && !packages.some((glob) => globToRegExp(glob).test(packageName))) {
        throw new ForbiddenError(`the token used is limited to packages ${packages.join(', ')}; not valid to ${permission} ${packageName}`);
      }
    }
    if (principal.roles.includes('admin')) return;
    if (permission === 'read' && principal.anonymous && repository.anonymousRead !== undefined) {
      if (!repository.anonymousRead) deny();
      return;
    }
    const decided = this.rules.decide(principal, permission, repository.name, packageName);
    if (decided === true) return;
    if (decided === false) deny();
    if (permission === 'read') {
      if (principal.anonymous && !this.config.anonymousRead) deny();
      return;
    }
    if (principal.anonymous || permission === 'admin') deny();
  }
}
