import { BadRequestError, ForbiddenError, NotFoundError, type PackageOwner, type PackageOwners, type Principal } from '@registry-core/api';
import type { MetadataStore } from '../metadata/metadata-store.js';
import { actorFields, type AuditActor, type AuditLog } from './audit-log.js';
import type { Users } from './users.js';

/** What {@link PackageOwnership.beforeWrite} did: `claimed` when this write made its principal the first owner. */
export interface WriteClearance {
  readonly claimed: boolean;
}

/** Administrators pass every ownership check. */
export const isAdmin = (principal: Principal): boolean => !principal.anonymous && principal.roles.includes('admin');

/**
 * Package ownership, the kernel's for every format: per (repository, package name) the users
 * who may write to the name. The first write to a name with no owners claims it for its user
 * (names published before ownership existed included: their next writer claims them);
 * later writes by anyone else are refused before they reach the format. Administrators may
 * always write and change owners, and never claim a name that already has content.
 * Tokens act as their user.
 */
export class PackageOwnership {
  constructor(
    private readonly metadata: MetadataStore,
    private readonly users: Users,
    private readonly audit: AuditLog,
  ) {}

  /** The owners of a name with the emails the registry knows; empty when nobody owns it. */
  async list(repository: string, packageName: string): Promise<PackageOwner[]> {
    return this.describe((await this.metadata.packageOwners(repository, packageName)) ?? []);
  }

  /** Whether the registry knows a user (config, stored, or an auth provider's). */
  private async known(name: string): Promise<boolean> {
    return (await this.users.exists(name)) || (await this.users.rolesOf(name)) !== undefined;
  }

  /** Users as clients are shown owners: the name, and the email of a stored user that has one. */
  async describe(names: readonly string[]): Promise<PackageOwner[]> {
    if (names.length === 0) return [];
    const rows = await this.metadata.users.find({ where: names.map((name) => ({ name })), select: { name: true, email: true } });
    const emails = new Map(rows.map((r) => [r.name, r.email]));
    return names.map((name) => {
      const email = emails.get(name);
      return email ? { name, email } : { name };
    });
  }

  /**
   * The kernel's check before a write to `packageName` reaches the format: refused with a
   * 403 naming the owners unless the principal owns the name or is an administrator. A name
   * nobody owns is claimed for the principal when `claim` (writes; deletes never claim),
   * except by an administrator for a name with content already (`isNew` false). Anonymous
   * writers (where the permissions allow them) never claim and may not write to an owned name.
   */
  async beforeWrite(principal: Principal, repository: string, packageName: string, options: { readonly claim: boolean; readonly isNew: () => Promise<boolean> }): Promise<WriteClearance> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const owners = await this.metadata.packageOwners(repository, packageName);
      if (owners !== undefined && owners.length > 0) {
        if (isAdmin(principal) || (!principal.anonymous && owners.includes(principal.name))) return { claimed: false };
        throw new ForbiddenError(
          `${principal.anonymous ? 'an anonymous client' : principal.name} may not change ${packageName} in ${repository}: it is owned by ${owners.join(', ')}` +
            ' (an owner can add you with `npm owner add`, or an administrator with `registry-core owners add`)',
        );
      }
      if (!options.claim || principal.anonymous || (isAdmin(principal) && !(await options.isNew()))) return { claimed: false };
      if (await this.metadata.claimPackage(repository, packageName, principal.name)) return { claimed: true };
      // Claimed meanwhile (another writer, another node): check again against its owners.
    }
    throw new ForbiddenError(`the owners of ${packageName} in ${repository} changed during this request; retry`);
  }

  /** Undo a claim made by a write that failed (only while its claimer is still the sole owner). */
  async releaseClaim(repository: string, packageName: string, owner: string): Promise<void> {
    await this.metadata.changePackageOwners(repository, packageName, (current) => (current?.length === 1 && current[0] === owner ? undefined : current));
  }

  /**
   * Add an owner, as `principal` (an owner of the name or an administrator). The user must
   * exist. A name nobody owns is claimed by an administrator's add.
   */
  async add(principal: Principal, repository: string, packageName: string, user: string): Promise<PackageOwner[]> {
    if (!(await this.known(user))) throw new NotFoundError(`no user named ${user}`);
    const owners = await this.change(principal, repository, packageName, (current) => (current.includes(user) ? current : [...current, user]));
    await this.audit.record({ action: 'owner.add', principal: principal.name, repository, package: packageName, details: { user } });
    return this.describe(owners);
  }

  /** Remove an owner, as `principal` (an owner or an administrator); never the last one. */
  async remove(principal: Principal, repository: string, packageName: string, user: string): Promise<PackageOwner[]> {
    const owners = await this.change(principal, repository, packageName, (current) => {
      if (!current.includes(user)) throw new NotFoundError(`${user} is not an owner of ${packageName} in ${repository}`);
      if (current.length === 1) throw new BadRequestError(`${user} is the last owner of ${packageName}; add another owner first (an administrator can release the name with \`registry-core owners rm\`)`);
      return current.filter((name) => name !== user);
    });
    await this.audit.record({ action: 'owner.remove', principal: principal.name, repository, package: packageName, details: { user } });
    return this.describe(owners);
  }

  private async change(principal: Principal, repository: string, packageName: string, change: (current: string[]) => string[]): Promise<string[]> {
    const stored = await this.metadata.changePackageOwners(repository, packageName, (current) => {
      const owners = current ?? [];
      if (!isAdmin(principal) && (principal.anonymous || !owners.includes(principal.name))) {
        throw new ForbiddenError(`${principal.name} may not change the owners of ${packageName} in ${repository}${owners.length ? `: it is owned by ${owners.join(', ')}` : ': nobody owns it yet (its next publisher will)'}`);
      }
      return change(owners);
    });
    return stored ?? [];
  }

  /**
   * The command line's changes (an operator with the config, no principal): set or drop an
   * owner without the rights checks; removing the last owner releases the name (its next
   * writer claims it).
   */
  async operatorAdd(repository: string, packageName: string, user: string, actor?: AuditActor): Promise<PackageOwner[]> {
    if (!(await this.known(user))) throw new NotFoundError(`no user named ${user}`);
    const owners = await this.metadata.changePackageOwners(repository, packageName, (current) => (current?.includes(user) ? current : [...(current ?? []), user]));
    await this.audit.record({ action: 'owner.add', ...actorFields(actor), repository, package: packageName, details: { user } });
    return this.describe(owners ?? []);
  }

  async operatorRemove(repository: string, packageName: string, user: string, actor?: AuditActor): Promise<PackageOwner[]> {
    const owners = await this.metadata.changePackageOwners(repository, packageName, (current) => {
      if (!current?.includes(user)) throw new NotFoundError(`${user} is not an owner of ${packageName} in ${repository}`);
      const rest = current.filter((name) => name !== user);
      return rest.length > 0 ? rest : undefined;
    });
    await this.audit.record({ action: 'owner.remove', ...actorFields(actor), repository, package: packageName, details: { user } });
    return this.describe(owners ?? []);
  }

  /** The owners service of one repository for one request's principal (`ctx.owners`). */
  forRequest(principal: Principal, repository: string): PackageOwners {
    return {
      list: (packageName) => this.list(repository, packageName),
      add: (packageName, user) => this.add(principal, repository, packageName, user),
      remove: (packageName, user) => this.remove(principal, repository, packageName, user),
      user: async (name) => (principal.anonymous || !(await this.known(name)) ? undefined : (await this.describe([name]))[0]),
    };
  }
}
