import type { Permission, Principal } from '@registry-core/api';

/** One `auth.permissions` rule of the config. */
export interface PermissionRule {
  /** Repository name globs (`*` any characters); default every repository. */
  readonly repositories: readonly string[];
  /** Package name globs (`*` within a path segment, `**` across); absent: every name. */
  readonly packages?: readonly string[];
  readonly read?: readonly string[];
  readonly write?: readonly string[];
  readonly delete?: readonly string[];
  readonly admin?: readonly string[];
}

/** Who a rule's list names: Verdaccio's words, plus user and group names. */
export const EVERYONE = '$all';
export const ANONYMOUS_ONLY = '$anonymous';
export const AUTHENTICATED = '$authenticated';

/** A glob as a regular expression: `*` stays inside a `/`-separated segment, `**` does not. */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        source += '.*';
        i++;
      } else source += '[^/]*';
    } else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

interface CompiledRule {
  readonly repositories: readonly RegExp[];
  readonly packages?: readonly RegExp[];
  readonly lists: Partial<Record<Permission, ReadonlySet<string>>>;
}

/** Whether `principal` is one of `names` ($all, $anonymous, $authenticated, a user or a group). */
function names(principal: Principal, list: ReadonlySet<string>): boolean {
  if (list.has(EVERYONE)) return true;
  if (principal.anonymous) return list.has(ANONYMOUS_ONLY);
  if (list.has(AUTHENTICATED) || list.has(principal.name)) return true;
  return principal.roles.some((role) => list.has(role) || list.has(`group:${role}`));
}

/**
 * The config's permission rules. For a permission on a repository (and, when the format
 * names one, a package), every rule whose repository globs and package globs match is
 * consulted: the permission is granted when one of them lists the principal for it. When
 * no matching rule says anything about that permission, the default applies (see
 * {@link PermissionRules.decide}). A check without a package name asks whether the
 * principal may do it to some package there (routes are checked before the format knows
 * the name; the format then checks the name): there, rules limited to some names can
 * grant but never refuse.
 */
export class PermissionRules {
  private readonly rules: readonly CompiledRule[];

  constructor(rules: readonly PermissionRule[]) {
    this.rules = rules.map((rule) => ({
      repositories: (rule.repositories.length > 0 ? rule.repositories : ['*']).map(globToRegExp),
      ...(rule.packages ? { packages: rule.packages.map(globToRegExp) } : {}),
      lists: Object.fromEntries(
        (['read', 'write', 'delete', 'admin'] as const).filter((p) => rule[p] !== undefined).map((p) => [p, new Set(rule[p])]),
      ),
    }));
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /**
   * `true` or `false` when a matching rule speaks about `permission`; `undefined` when none
   * does (the caller's default then applies).
   */
  decide(principal: Principal, permission: Permission, repository: string, packageName?: string): boolean | undefined {
    let spoken = false;
    for (const rule of this.rules) {
      const list = rule.lists[permission];
      if (!list) continue;
      if (!rule.repositories.some((r) => r.test(repository))) continue;
      if (rule.packages && packageName !== undefined && !rule.packages.some((p) => p.test(packageName))) continue;
      if (names(principal, list)) return true;
      // Without a name (a route checked before the format knows it), a rule for some names
      // may grant but not refuse: other names may be open. The format checks the name.
      if (!rule.packages || packageName !== undefined) spoken = true;
    }
    return spoken ? false : undefined;
  }
}
