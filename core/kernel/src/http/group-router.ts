import {
  MEMBER_HEADER,
  MethodNotAllowedError,
  NotFoundError,
  RegistryError,
  UpstreamError,
  isRegistryError,
  runHandler,
  type CacheStatus,
  type FormatRequestContext,
  type FormatResponse,
  type GroupPlan,
  type LoadedDocument,
  type MergeableDocument,
  type MergeSources,
  type RouteDefinition,
} from '@registry-core/api';
import { repositoryInfo, type RepositoryRuntime } from './dispatcher.js';

/** A hosted or proxy repository reached through a group (nested groups are flattened). */
export interface Leaf {
  readonly name: string;
  readonly type: 'hosted' | 'proxy';
  readonly runtime: RepositoryRuntime;
}

/** What the router needs from the dispatcher: run a request on one leaf member. */
export interface MemberRunner {
  /** The member's answer to the group's request (its handler, its permission checks). */
  handle(member: RepositoryRuntime): Promise<FormatResponse>;
  /** The member's document for a mergeable route. */
  load<T>(member: RepositoryRuntime, merge: MergeableDocument<T>): Promise<LoadedDocument<T> | undefined>;
  /** Record a refused write in the audit log. */
  refused(fields: { readonly package: string; readonly member?: string; readonly status: number; readonly reason: string }): Promise<void>;
}

const CACHE_RANK: Record<CacheStatus, number> = { HIT: 0, MISS: 1, STALE: 2 };

/** `*` is any run of characters; everything else is literal. */
function globMatches(pattern: string, name: string): boolean {
  const source = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&')).join('.*');
  return new RegExp(`^${source}$`, 's').test(name);
}

/**
 * A member's failure as a RegistryError (anything else is a member that broke: a 502, its
 * own words left to the log, see the dispatcher's member runner).
 */
function asRegistryError(error: unknown, member: string): RegistryError {
  if (isRegistryError(error)) return error;
  return new UpstreamError(`${member} failed: internal error`, { cause: error });
}

/** One member's failure to answer a group's request. */
interface MemberFailure {
  readonly member: string;
  readonly error: RegistryError;
}

/** URLs' user information (`//user:password@`) out of a message, whoever wrote it. */
function withoutUserinfo(message: string): string {
  return message.replace(/\/\/[^\s/@]*@/g, '//');
}

function withMember(response: FormatResponse, members: readonly string[]): FormatResponse {
  return { ...response, headers: { ...response.headers, [MEMBER_HEADER]: members.join(', ') } };
}

/**
 * The kernel's group policy, the same for every format: which members answer a request
 * of a group, by the plan the format's route gives (see GroupPlan in the API). Members are
 * asked through their own handlers, so their permission rules hold through the group.
 */
export class GroupRouter {
  constructor(private readonly repositories: ReadonlyMap<string, RepositoryRuntime>) {}

  /**
   * The hosted and proxy repositories a group reaches for `packageName` (every one without
   * a name), in member order: nested groups flattened, each group's `routing` claims applied
   * at its own level, each repository once.
   */
  leaves(groupName: string, packageName?: string): Leaf[] {
    const out: Leaf[] = [];
    const seen = new Set<string>();
    const visit = (name: string, depth: number) => {
      const runtime = this.repositories.get(name);
      if (!runtime || depth > 16) return;
      if (runtime.config.type !== 'group') {
        if (seen.has(name)) return;
        seen.add(name);
        out.push({ name, type: runtime.config.type, runtime });
        return;
      }
      for (const member of this.membersFor(runtime, packageName)) visit(member, depth + 1);
    };
    visit(groupName, 0);
    return out;
  }

  /** A group's members for a name: those its first matching claim names, else all. */
  private membersFor(group: RepositoryRuntime, packageName: string | undefined): readonly string[] {
    return this.claimOf(group, packageName) ?? group.config.members ?? [];
  }

  /** The members a group's first matching `routing` claim names for a name; undefined: no claim. */
  private claimOf(group: RepositoryRuntime, packageName: string | undefined): readonly string[] | undefined {
    if (packageName === undefined) return undefined;
    for (const [pattern, claimed] of Object.entries(group.config.routing ?? {})) {
      if (globMatches(pattern, packageName)) return claimed;
    }
    return undefined;
  }

  /**
   * The proxies a name new to hosted repository `hosted` would shadow: for every group that
   * reaches `hosted` for the name, its proxy members. None when a `routing` claim of any group
   * (its own or a nested group's) leads to `hosted` for the name: the operator said the name
   * is this repository's, and a claimed name is never asked of an upstream (asking would
   * leak it). A hosted name is served instead of the proxies' (owners answer alone), so
   * publishing it changes what every client of the group gets.
   */
  shadowed(hosted: string, packageName: string): { group: string; proxies: Leaf[] }[] {
    const out: { group: string; proxies: Leaf[] }[] = [];
    const groups = [...this.repositories.values()].filter((r) => r.config.type === 'group');
    if (groups.some((group) => this.claimedFor(group, packageName, hosted, 0))) return [];
    for (const runtime of groups) {
      const leaves = this.leaves(runtime.name, packageName);
      if (!leaves.some((l) => l.name === hosted && l.type === 'hosted')) continue;
      const proxies = leaves.filter((l) => l.type === 'proxy');
      if (proxies.length > 0) out.push({ group: runtime.name, proxies });
    }
    return out;
  }

  /** Whether a `routing` claim matching the name leads from `group` to `hosted`. */
  private claimedFor(group: RepositoryRuntime, packageName: string, hosted: string, depth: number, claimed = false): boolean {
    if (depth > 16) return false;
    const claim = this.claimOf(group, packageName);
    for (const member of claim ?? group.config.members ?? []) {
      const runtime = this.repositories.get(member);
      if (!runtime) continue;
      if (runtime.config.type === 'group') {
        if (this.claimedFor(runtime, packageName, hosted, depth + 1, claimed || claim !== undefined)) return true;
      } else if (member === hosted && (claimed || claim !== undefined)) return true;
    }
    return false;
  }

  /**
   * The owners of a name among `leaves`: per version space, the first hosted leaf whose
   * component index holds the name. `spaces` is every version space of the hosted leaves.
   */
  private async owners(leaves: readonly Leaf[], packageName: string): Promise<{ owners: Leaf[]; ownedSpaces: Set<string> }> {
    const owners: Leaf[] = [];
    const ownedSpaces = new Set<string>();
    const hosted = leaves.filter((l) => l.type === 'hosted');
    const held = await Promise.all(hosted.map(async (leaf) => (await leaf.runtime.handle.components.versions(packageName)).length > 0));
    hosted.forEach((leaf, i) => {
      const space = this.spaceOf(leaf);
      if (ownedSpaces.has(space) || !held[i]) return;
      owners.push(leaf);
      ownedSpaces.add(space);
    });
    return { owners, ownedSpaces };
  }

  private spaceOf(leaf: Leaf): string {
    const { runtime } = leaf;
    return runtime.format.versionSpace?.(repositoryInfo(runtime, '')) ?? '';
  }

  /** Answer a group's request by its route's plan. */
  async serve(group: RepositoryRuntime, route: RouteDefinition, ctx: FormatRequestContext, run: MemberRunner): Promise<FormatResponse> {
    const plan: GroupPlan = route.group ? await route.group(ctx) : { serve: 'group' };
    switch (plan.serve) {
      case 'group':
        return runHandler(route.handler, ctx);
      case 'upstream':
        return this.upstream(group, run);
      case 'members':
        return this.merged(ctx, this.leaves(group.name), plan.merge, run, { tolerant: true, owners: 0 });
      case 'package': {
        const write = route.permission === 'write' || route.permission === 'delete';
        // The group's own name-level rules first (auth.permissions with `packages`), then each
        // member's own when it answers.
        ctx.authorize(route.permission === 'none' ? 'read' : route.permission, plan.package);
        return write ? this.write(group, plan.package, run) : this.read(group, ctx, plan.package, plan.merge, run, plan.unreachableIsMissing === true);
      }
    }
  }

  /** The proxies in order; the first that answers is the answer. None: a 502, never an empty "all clear". */
  private async upstream(group: RepositoryRuntime, run: MemberRunner): Promise<FormatResponse> {
    const proxies = this.leaves(group.name).filter((l) => l.type === 'proxy');
    if (proxies.length === 0) throw new UpstreamError(`${group.name} has no proxy member to ask`);
    const failures: MemberFailure[] = [];
    for (const proxy of proxies) {
      try {
        return withMember(await run.handle(proxy.runtime), [proxy.name]);
      } catch (error) {
        failures.push({ member: proxy.name, error: asRegistryError(error, proxy.name) });
      }
    }
    throw this.nothingFound(failures, group.name);
  }

  /** Owners answer alone; without one, the proxies. */
  private async read(group: RepositoryRuntime, ctx: FormatRequestContext, packageName: string, merge: MergeableDocument<unknown> | undefined, run: MemberRunner, unreachableIsMissing = false): Promise<FormatResponse> {
    const leaves = this.leaves(group.name, packageName);
    const { owners } = await this.owners(leaves, packageName);
    const candidates = owners.length > 0 ? owners : leaves.filter((l) => l.type === 'proxy');
    if (merge) return this.merged(ctx, candidates, merge, run, { tolerant: owners.length === 0, owners: owners.length, packageName, group: group.name });
    const failures: MemberFailure[] = [];
    for (const leaf of candidates) {
      try {
        return withMember(await run.handle(leaf.runtime), [leaf.name]);
      } catch (error) {
        const failure = asRegistryError(error, leaf.name);
        // An owner that fails or refuses is the answer: the name is never looked up
        // elsewhere. An owner without the file passes to the next owner (another version
        // space: a release repository and a SNAPSHOT), never to a proxy.
        if (owners.length > 0 && failure.status !== 404) throw failure;
        failures.push({ member: leaf.name, error: failure });
      }
    }
    const error = this.nothingFound(failures, group.name, packageName);
    if (unreachableIsMissing && owners.length === 0 && error.status >= 500) {
      ctx.logger.debug('group proxies unreachable: answered not found', { group: group.name, package: packageName, error: error.message });
      throw new NotFoundError(error.message.replace(/^no member of/, 'nothing found in'));
    }
    throw error;
  }

  /**
   * Every candidate's document, merged in member order. Owners must all answer; proxies
   * (`tolerant`) may fail while another answers.
   */
  private async merged(ctx: FormatRequestContext, candidates: readonly Leaf[], merge: MergeableDocument<unknown>, run: MemberRunner, options: { tolerant: boolean; owners: number; packageName?: string; group?: string }): Promise<FormatResponse> {
    const results = await Promise.all(
      candidates.map(async (leaf) => {
        try {
          return { leaf, loaded: await run.load(leaf.runtime, merge) };
        } catch (error) {
          return { leaf, error: asRegistryError(error, leaf.name) };
        }
      }),
    );
    const failures = results.flatMap((r): MemberFailure[] => (r.error ? [{ member: r.leaf.name, error: r.error }] : []));
    if (!options.tolerant) {
      const failed = failures.find((f) => f.error.status !== 404);
      if (failed) throw failed.error;
    }
    const found = results.filter((r): r is { leaf: Leaf; loaded: LoadedDocument<unknown> } => r.loaded !== undefined);
    // Some documents exist for every name (OCI's referrers: an empty list, never a 404).
    if (found.length === 0 && merge.empty && !failures.some((f) => f.error.status !== 404)) return merge.render(ctx, { value: merge.empty(ctx) });
    if (found.length === 0) throw this.nothingFound(failures, options.group ?? ctx.repository.name, options.packageName);
    for (const r of results) if (r.error && r.error.status >= 500) ctx.logger.warn('group member failed', { member: r.leaf.name, code: r.error.code, error: r.error.message });
    const revisions = found.map((r) => r.loaded.revision);
    const cache = found.map((r) => r.loaded.cache).reduce<CacheStatus | undefined>((worst, c) => (c === undefined ? worst : worst === undefined || CACHE_RANK[c] > CACHE_RANK[worst] ? c : worst), undefined);
    const document: LoadedDocument<unknown> =
      found.length === 1
        ? found[0]!.loaded
        : {
            value: await merge.merge(found.map((r) => r.loaded.value), ctx, this.sources(options.group ?? ctx.repository.name, found.map((r) => r.leaf))),
            ...(cache ? { cache } : {}),
            ...(revisions.every((r) => r !== undefined) ? { revision: found.map((r) => `${r.leaf.name}=${r.loaded.revision}`).join('\u0001') } : {}),
          };
    return withMember(await merge.render(ctx, document), found.map((r) => r.leaf.name));
  }

  /** The kernel's per-name rule for the documents of a merge (see MergeSources in the API). */
  private sources(groupName: string, leaves: readonly Leaf[]): MergeSources {
    return {
      members: leaves.map((l) => ({ name: l.name, type: l.type })),
      servedFrom: (packageName, holders) => {
        const reached = new Set(this.leaves(groupName, packageName).map((l) => l.name));
        const candidates = [...holders].sort((a, b) => a - b).filter((i) => leaves[i] !== undefined && reached.has(leaves[i].name));
        const owners: number[] = [];
        const spaces = new Set<string>();
        for (const i of candidates) {
          if (leaves[i]!.type !== 'hosted') continue;
          const space = this.spaceOf(leaves[i]!);
          if (spaces.has(space)) continue;
          spaces.add(space);
          owners.push(i);
        }
        return owners.length > 0 ? owners : candidates.filter((i) => leaves[i]!.type === 'proxy');
      },
    };
  }

  /**
   * A write: to the name's owners, else (and for a version space nobody owns the name in)
   * to the hosted members in order; a member whose policy does not take it passes it on.
   */
  private async write(group: RepositoryRuntime, packageName: string, run: MemberRunner): Promise<FormatResponse> {
    const leaves = this.leaves(group.name, packageName);
    const { owners, ownedSpaces } = await this.owners(leaves, packageName);
    const others = leaves.filter((l) => l.type === 'hosted' && !owners.includes(l) && !ownedSpaces.has(this.spaceOf(l)));
    const candidates = [...owners, ...others];
    if (candidates.length === 0) {
      await run.refused({ package: packageName, status: 405, reason: 'no hosted member takes this name' });
      throw new MethodNotAllowedError(`${group.name} has no hosted member that takes writes of ${packageName}`);
    }
    let refusal: RegistryError | undefined;
    for (const leaf of candidates) {
      try {
        return withMember(await run.handle(leaf.runtime), [leaf.name]);
      } catch (error) {
        const failure = asRegistryError(error, leaf.name);
        if (failure.code === 'REPOSITORY_POLICY') {
          refusal ??= failure;
          continue;
        }
        if (failure.status === 401 || failure.status === 403) await run.refused({ package: packageName, member: leaf.name, status: failure.status, reason: failure.message });
        throw failure;
      }
    }
    await run.refused({ package: packageName, status: refusal!.status, reason: refusal!.message });
    throw refusal!;
  }

  /**
   * Nobody had it. A refusal says more than anything (the name may exist where the client
   * may not look): it is the answer. A failure says more than a 404 (the name may exist
   * where nobody could ask): the first failure's status and code, with a message naming
   * every member asked and how it failed ("npm-proxy: upstream … failed: ECONNREFUSED;
   * mirror: not found"). Only 404s: the first member's, in the format's own words.
   */
  private nothingFound(failures: readonly MemberFailure[], group: string, packageName?: string): RegistryError {
    const refusal = failures.find((f) => f.error.status === 401 || f.error.status === 403);
    if (refusal) return refusal.error;
    const failed = failures.find((f) => f.error.status !== 404);
    if (!failed) return failures[0]?.error ?? new NotFoundError(`${packageName ?? 'it'} is not in ${group}`);
    const each = failures.map((f) => `${f.member}: ${f.error.status === 404 ? 'not found' : f.error.message}`).join('; ');
    const message = withoutUserinfo(`no member of ${group} could answer${packageName ? ` for ${packageName}` : ''}: ${each}`);
    return new RegistryError(failed.error.code, message, failed.error.status, { cause: failed.error, headers: { ...failed.error.headers } });
  }
}
