import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, type RawResponse, type TestHost, type TestHostPlugin } from './test-host.js';
import { startUpstreamRelay, type UpstreamRelay } from './upstream-relay.js';

/** One version of a package the suite publishes: `content` is unique to it. */
export interface ConformancePackage {
  readonly name: string;
  readonly version: string;
  readonly content: Buffer;
}

/** Where the adapter reads or writes: a repository's URL (`http://host/<repo>/`) and maybe a token. */
export interface ConformanceTarget {
  readonly repositoryUrl: string;
  /** A read-write token of a user of the host (absent: anonymous). */
  readonly token?: string;
}

/** An HTTP answer the adapter read, for the suite to judge. */
export interface ConformanceAnswer {
  readonly status: number;
  readonly headers: Headers;
}

/** A package's version list as a repository serves it (`versions` when the status is 200). */
export interface VersionsAnswer extends ConformanceAnswer {
  readonly versions?: readonly string[];
}

/** An artifact as a repository serves it (`bytes` when the status is 200). */
export interface ArtifactAnswer extends ConformanceAnswer {
  readonly bytes?: Buffer;
}

/** A request sent exactly as written (see {@link FormatConformanceAdapter.hostileRequests}). */
export interface HostileRequest {
  /** What it tries, for the failure message. */
  readonly label: string;
  readonly method: string;
  /** The raw request path, `/repo/...`, sent without normalization. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
}

/**
 * What a format tells {@link describeFormatConformance}: how to publish a version of a
 * package and how to read its version list and an artifact, each through a repository URL,
 * exactly as the format's clients do over HTTP.
 */
export interface FormatConformanceAdapter {
  /** Label of the suite. */
  readonly name: string;
  /** The plugin to load: its package folder (absolute path) or package name. */
  readonly plugin: TestHostPlugin;
  /** The format id the plugin contributes. */
  readonly format: string;
  /** Extra keys of each kind of repository the suite configures (`mutable`, `allowRedeploy`, ...). */
  readonly repositoryConfig?: {
    readonly hosted?: Readonly<Record<string, unknown>>;
    readonly proxy?: Readonly<Record<string, unknown>>;
    readonly group?: Readonly<Record<string, unknown>>;
  };
  /**
   * A valid package name for a base such as `rc-owned` (lowercase letters, digits, `-`),
   * written as the format indexes its components (routing claims are matched on it).
   * Default: the base itself.
   */
  packageName?(base: string): string;
  /**
   * The routing claim (a glob, `*` any run of characters) of every name built from a base that
   * starts with `prefix` (`rc-claimed-`): what an operator writes to claim those names for
   * some members. Default: `${packageName(prefix)}*`, for formats whose names end with their
   * base (Maven's `com.example.<base>:<base>` does not: its claims name groupIds,
   * `com.example.rc-claimed-*`).
   */
  claimPattern?(prefix: string): string;
  /**
   * The name as the format's request paths spell it after `/<repository>/`, percent-encoded
   * as sent. The suite counts a proxy's upstream requests for a name by it (decoded: every
   * request for the name has it in its path) and tries hostile paths after it. Default:
   * `encodeURIComponent(name)`, for formats whose URLs hold the name as one segment (Maven's
   * are folders: `com/example/x/x`).
   */
  namePath?(name: string): string;
  /**
   * Names may hold `/` between components (OCI's `team/app`, npm's `@scope/name`). The suite
   * then publishes names whose slashes no such name allows (an empty component, a leading
   * and a trailing slash) where it would publish `rc-a/rc-b`. Default: false.
   */
  readonly slashInNames?: boolean;
  /**
   * The metadata document `readVersions` reads covers every name of a repository at once (a
   * conda channel's `repodata.json`): a group merges every member's, keeping each name's
   * entries from the members the kernel serves that name from (MergeSources), so its
   * `X-Registry-Member` names them all, and a proxy reads it from the upstream without
   * naming any package. The suite then checks that a version list's member header includes
   * the serving member (not that it is the only one), and counts a proxy's upstream requests
   * for a name after an artifact read. Default: false.
   */
  readonly sharedIndex?: boolean;
  /**
   * The version of the component index (and so of the browse API) that publishing `version`
   * of `name` makes: Go's `v1.0.0` for the suite's `1.0.0`, a raw file's path. Default: `version`.
   */
  componentVersion?(name: string, version: string): string;
  /** The artifact `readArtifact` serves for a published package. */
  artifact(pkg: ConformancePackage): Buffer | Promise<Buffer>;
  /** Publish `pkg` to the repository (hosted or group) at `target` as the format's clients do. */
  publish(target: ConformanceTarget, pkg: ConformancePackage): Promise<ConformanceAnswer>;
  /** The package's version list (the format's metadata document) at `target`. */
  readVersions(target: ConformanceTarget, name: string): Promise<VersionsAnswer>;
  /** The artifact of one version at `target`. */
  readArtifact(target: ConformanceTarget, name: string, version: string): Promise<ArtifactAnswer>;
  /** The URL a proxy is configured with to mirror the repository at `repositoryUrl`. Default: that URL. */
  upstreamUrl?(repositoryUrl: string): string;
  /**
   * Requests of the format's own shape that must be refused with a 4xx and change nothing
   * (the suite adds generic traversal, encoded-slash, NUL and overlong paths and names).
   * `repository` is a hosted repository's name, `group` a group's.
   */
  hostileRequests?(context: { repository: string; group: string; token: string }): readonly HostileRequest[];
}

/** Knobs of {@link describeFormatConformance}. */
export interface FormatConformanceOptions {
  /** Timeout of each test and hook in ms. Default 60 s. */
  readonly timeoutMs?: number;
}

/** What the browse API (`/-/api/repositories/<r>/packages/<name>`) answers, as far as tests read it. */
export interface PackageViewAnswer {
  readonly heldBy: string;
  readonly version: string;
  readonly versions: readonly { readonly version: string }[];
  readonly description: string;
  readonly readme?: string;
  readonly dependencies: readonly { readonly name: string; readonly range: string; readonly kind: string }[];
  readonly tags: Readonly<Record<string, string>>;
  readonly facts: Readonly<Record<string, string>>;
  readonly files: readonly { readonly name: string; readonly path: string; readonly size: number; readonly digests: Readonly<Record<string, string>> }[];
  readonly install: readonly string[];
}

/** One package as the browse API describes it (`version`: that version's view), read anonymously; fails unless it answers 200. */
export async function fetchPackageView(hostUrl: string, repository: string, name: string, version?: string): Promise<PackageViewAnswer> {
  const url = `${hostUrl}/-/api/repositories/${encodeURIComponent(repository)}/packages/${encodeURIComponent(name)}${version === undefined ? '' : `?version=${encodeURIComponent(version)}`}`;
  const response = await fetch(url, { headers: { accept: 'application/json' } });
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status} ${(await response.text()).slice(0, 500)}`);
  return (await response.json()) as PackageViewAnswer;
}

/** The member header of group answers (the kernel's MEMBER_HEADER). */
const MEMBER = 'x-registry-member';

/** The generic hostile paths tried on every repository, after `/<repository>/`. */
const HOSTILE_SUFFIXES: readonly [string, string][] = [
  ['dot-dot segments', '../../../etc/passwd'],
  ['encoded dot-dot segments', '%2e%2e/%2e%2e/%2e%2e/etc/passwd'],
  ['encoded slashes', '..%2f..%2f..%2fetc%2fpasswd'],
  ['an encoded slash in a name', 'rc-a%2frc-b'],
  ['an encoded backslash', '..%5c..%5cetc%5cpasswd'],
  ['a NUL byte', 'rc-nul%00name'],
  ['an overlong name', 'x'.repeat(2000)],
];

/** Names that must never be published, whatever the format. */
const HOSTILE_NAMES: readonly [string, string][] = [
  ['dot-dot segments', '../../rc-escape'],
  ['an encoded slash', 'rc-a%2frc-b'],
  ['a backslash', 'rc-a\\..\\rc-b'],
  ['a NUL byte', 'rc-nul\0name'],
  ['an overlong name', `rc-${'x'.repeat(2000)}`],
];

/** Slashes in names: none where names have no components; misplaced ones where they do. */
const SLASH_NAMES: readonly [string, string][] = [['a slash', 'rc-a/rc-b']];
const MISPLACED_SLASH_NAMES: readonly [string, string][] = [
  ['an empty component', 'rc-a//rc-b'],
  ['a leading slash', '/rc-a'],
  ['a trailing slash', 'rc-a/'],
];

/**
 * The group contract every format must meet on the real kernel, as a vitest suite: hosted
 * publish and read back, proxy pull-through and STALE answers with the upstream stopped,
 * group reads, ownership (a hosted member's name is served from it alone), routing claims,
 * writes through a group, `X-Registry-Member`, and hostile paths refused without effect.
 *
 * The suite starts two hosts with {@link createTestHost}: an upstream with one hosted
 * repository `origin`, and the host under test with hosted `local` and `second`, proxies
 * `remote` and `stale` of `origin` (each through a relay that counts requests and can be
 * stopped), and groups `all` (local, second, remote), `routed` (the same, with a routing
 * claim of `rc-claimed-*` for local and second) and `stale-group` (local, stale). Only user
 * `alice` may write to `local`.
 */
export function describeFormatConformance(adapter: FormatConformanceAdapter, options: FormatConformanceOptions = {}): void {
  const timeout = options.timeoutMs ?? 60_000;
  const name = (base: string) => adapter.packageName?.(base) ?? base;
  const claim = (prefix: string) => adapter.claimPattern?.(prefix) ?? `${name(prefix)}*`;
  const run = randomUUID().slice(0, 8);
  const pkg = (base: string, version: string, who = ''): ConformancePackage => ({
    name: name(base),
    version,
    content: Buffer.from(`registry-core conformance ${base} ${version} ${who} ${run}\n`),
  });

  describe(`format conformance: ${adapter.name}`, { timeout }, () => {
    let upstream: TestHost;
    let host: TestHost;
    let counted: UpstreamRelay;
    let staleRelay: UpstreamRelay;
    let seeder: string;
    let alice: string;
    let bob: string;

    const at = (repository: string, token?: string): ConformanceTarget => ({ repositoryUrl: host.repositoryUrl(repository), ...(token !== undefined ? { token } : {}) });
    const origin = (): ConformanceTarget => ({ repositoryUrl: upstream.repositoryUrl('origin'), token: seeder });

    async function publish(target: ConformanceTarget, p: ConformancePackage): Promise<ConformanceAnswer> {
      const answer = await adapter.publish(target, p);
      expect(answer.status, `publish ${p.name} ${p.version} to ${target.repositoryUrl}`).toBeGreaterThanOrEqual(200);
      expect(answer.status, `publish ${p.name} ${p.version} to ${target.repositoryUrl}`).toBeLessThan(300);
      return answer;
    }

    async function versions(target: ConformanceTarget, packageName: string, expected: readonly string[] | 404): Promise<VersionsAnswer> {
      const answer = await adapter.readVersions(target, packageName);
      const what = `versions of ${packageName} at ${target.repositoryUrl}`;
      if (expected === 404) {
        expect(answer.status, what).toBe(404);
      } else {
        expect(answer.status, what).toBe(200);
        expect([...(answer.versions ?? [])].sort(), what).toEqual([...expected].sort());
      }
      return answer;
    }

    async function artifact(target: ConformanceTarget, p: ConformancePackage | { name: string; version: string }, expected: Buffer | 404): Promise<ArtifactAnswer> {
      const answer = await adapter.readArtifact(target, p.name, p.version);
      const what = `artifact of ${p.name} ${p.version} at ${target.repositoryUrl}`;
      if (expected === 404) {
        expect(answer.status, what).toBe(404);
      } else {
        expect(answer.status, what).toBe(200);
        expect(answer.bytes?.equals(expected), `${what}: the bytes published`).toBe(true);
      }
      return answer;
    }

    const member = (answer: ConformanceAnswer) => answer.headers.get(MEMBER);
    /** The member that served a version list (with a shared index: one of those merged, see FormatConformanceAdapter.sharedIndex). */
    const expectListedBy = (answer: ConformanceAnswer, expected: string) => {
      if (adapter.sharedIndex) expect((member(answer) ?? '').split(', '), 'members merged into the shared index').toContain(expected);
      else expect(member(answer)).toBe(expected);
    };
    const namePath = (packageName: string) => adapter.namePath?.(packageName) ?? encodeURIComponent(packageName);
    /** The relay's requests for a package name. */
    const asked = (relay: UpstreamRelay, packageName: string) => relay.asked(decodeURIComponent(namePath(packageName)));

    beforeAll(async () => {
      const typed = (type: 'hosted' | 'proxy' | 'group', extra: Record<string, unknown> = {}) => ({ format: adapter.format, type, ...adapter.repositoryConfig?.[type], ...extra });
      upstream = await createTestHost({ plugins: [adapter.plugin], repositories: { origin: typed('hosted') } });
      seeder = await upstream.userToken('seeder');
      counted = await startUpstreamRelay(upstream.url);
      staleRelay = await startUpstreamRelay(upstream.url);
      const upstreamUrl = (relay: UpstreamRelay) => adapter.upstreamUrl?.(`${relay.url}/origin/`) ?? `${relay.url}/origin/`;
      const members = ['local', 'second', 'remote'];
      host = await createTestHost({
        plugins: [adapter.plugin],
        repositories: {
          local: typed('hosted'),
          second: typed('hosted'),
          // A shared index lists what the upstream published since it was cached only after its TTL.
          remote: typed('proxy', { upstream: upstreamUrl(counted), cache: { retries: 0, ...(adapter.sharedIndex ? { metadataTtl: 0 } : {}) } }),
          stale: typed('proxy', { upstream: upstreamUrl(staleRelay), cache: { metadataTtl: 0, retries: 0 } }),
          all: typed('group', { members }),
          routed: typed('group', { members, routing: { [claim('rc-claimed-')]: ['local', 'second'] } }),
          // A hosted member of its own: once its upstream is stopped, the group's proxy cannot
          // be asked whether it serves a name, so new names are refused in its hosted members.
          'stale-hosted': typed('hosted'),
          'stale-group': typed('group', { members: ['stale-hosted', 'stale'] }),
        },
        auth: { permissions: [{ repositories: ['local'], write: ['alice'] }] },
      });
      alice = await host.userToken('alice');
      bob = await host.userToken('bob');
    }, timeout);

    afterAll(async () => {
      await Promise.allSettled([counted?.stop(), staleRelay?.stop()]);
      await Promise.allSettled([host?.stop(), upstream?.stop()]);
    }, timeout);

    it('hosted: a published version reads back, metadata and artifact; anonymous publishes are refused', async () => {
      const p = pkg('rc-hosted', '1.0.0');
      const anonymous = await adapter.publish(at('local'), p);
      expect(anonymous.status, 'anonymous publish').toBe(401);
      await versions(at('local'), p.name, 404);
      await publish(at('local', alice), p);
      await versions(at('local'), p.name, ['1.0.0']);
      await artifact(at('local'), p, await adapter.artifact(p));
      await artifact(at('local'), { name: p.name, version: '9.9.9' }, 404);
      await versions(at('second'), p.name, 404);
    });

    it('proxy: pulls a package through from the upstream and caches its artifact', async () => {
      const p = pkg('rc-proxied', '1.0.0');
      await publish(origin(), p);
      await versions(at('remote'), p.name, ['1.0.0']);
      if (!adapter.sharedIndex) expect(asked(counted, p.name).length, 'the proxy asked its upstream').toBeGreaterThan(0);
      const first = await artifact(at('remote'), p, await adapter.artifact(p));
      expect(asked(counted, p.name).length, 'the proxy asked its upstream').toBeGreaterThan(0);
      expect(first.headers.get('x-cache'), 'first artifact read').toMatch(/^(MISS|HIT)$/);
      const second = await artifact(at('remote'), p, await adapter.artifact(p));
      expect(second.headers.get('x-cache'), 'second artifact read').toBe('HIT');
      await versions(at('remote'), name('rc-never-published'), 404);
    });

    it('proxy: serves what it cached, marked STALE, when the upstream is stopped', async () => {
      const p = pkg('rc-stale', '1.0.0');
      await publish(origin(), p);
      await versions(at('stale'), p.name, ['1.0.0']);
      await artifact(at('stale'), p, await adapter.artifact(p));
      await staleRelay.stop();
      const page = await versions(at('stale'), p.name, ['1.0.0']);
      expect(page.headers.get('x-cache'), 'metadata past its TTL, upstream stopped').toBe('STALE');
      const file = await artifact(at('stale'), p, await adapter.artifact(p));
      expect(file.headers.get('x-cache'), 'cached artifact, upstream stopped').toBe('HIT');
      const grouped = await versions(at('stale-group'), p.name, ['1.0.0']);
      expect(grouped.headers.get('x-cache'), 'through a group').toBe('STALE');
      expectListedBy(grouped, 'stale');
      const missing = await adapter.readVersions(at('stale'), name('rc-stale-never-cached'));
      // A shared index is cached (stale): a name it does not list is not found; otherwise nothing is cached.
      if (adapter.sharedIndex) expect(missing.status, 'a name the stale shared index lacks, upstream stopped').toBe(404);
      else expect(missing.status, 'nothing cached, upstream stopped').toBeGreaterThanOrEqual(500);
    });

    it('group: serves hosted and proxied names, naming the member that answered', async () => {
      const hosted = pkg('rc-group-hosted', '1.0.0');
      const proxied = pkg('rc-group-proxied', '2.0.0');
      await publish(at('local', alice), hosted);
      await publish(origin(), proxied);
      expectListedBy(await versions(at('all'), hosted.name, ['1.0.0']), 'local');
      expect(member(await artifact(at('all'), hosted, await adapter.artifact(hosted)))).toBe('local');
      expectListedBy(await versions(at('all'), proxied.name, ['2.0.0']), 'remote');
      expect(member(await artifact(at('all'), proxied, await adapter.artifact(proxied)))).toBe('remote');
      await versions(at('all'), name('rc-group-nowhere'), 404);
    });

    it('ownership: a hosted name is served from its hosted member alone, never mixed with the upstream', async () => {
      const mine = pkg('rc-owned', '1.0.0');
      const theirs = pkg('rc-owned', '2.0.0', 'upstream');
      await publish(at('local', alice), mine);
      await publish(origin(), theirs);
      // The upstream does offer another version of the name (asked directly: publishing
      // mine asked the proxy first, and its "not found" is in the proxy's negative cache) ...
      await versions(origin(), theirs.name, ['2.0.0']);
      // ... which the group never serves: the name is local's.
      expectListedBy(await versions(at('all'), mine.name, ['1.0.0']), 'local');
      await artifact(at('all'), theirs, 404);
      expect(member(await artifact(at('all'), mine, await adapter.artifact(mine)))).toBe('local');
    });

    it('ownership: another user publishing an owned name to a second hosted member is not served through the group', async () => {
      const mine = pkg('rc-contested', '1.0.0');
      const otherVersion = pkg('rc-contested', '3.0.0', 'bob');
      const sameVersion = pkg('rc-contested', '1.0.0', 'bob');
      await publish(at('local', alice), mine);
      await publish(at('second', bob), otherVersion);
      await publish(at('second', bob), sameVersion);
      await versions(at('second'), mine.name, ['1.0.0', '3.0.0']);
      expectListedBy(await versions(at('all'), mine.name, ['1.0.0']), 'local');
      await artifact(at('all'), otherVersion, 404);
      expect(member(await artifact(at('all'), mine, await adapter.artifact(mine)))).toBe('local');
      expect((await adapter.artifact(mine)).equals(await adapter.artifact(sameVersion)), 'the two copies differ').toBe(false);
    });

    it('routing claims: claimed names are never asked of the proxy; unclaimed ones are', async () => {
      const claimed = pkg('rc-claimed-one', '1.0.0', 'upstream');
      const open = pkg('rc-unclaimed', '1.0.0');
      await publish(origin(), claimed);
      await publish(origin(), open);
      await versions(at('routed'), claimed.name, 404);
      await artifact(at('routed'), claimed, 404);
      expect(asked(counted, claimed.name), 'upstream requests for a claimed name').toEqual([]);
      // A claimed name a claiming member holds is served from it.
      const held = pkg('rc-claimed-two', '1.0.0', 'bob');
      await publish(at('second', bob), held);
      // (Publishing it asked the proxy once, for the group `all` that does not claim it.)
      const askedAtPublish = asked(counted, held.name).length;
      expectListedBy(await versions(at('routed'), held.name, ['1.0.0']), 'second');
      expect(asked(counted, held.name)).toHaveLength(askedAtPublish);
      // The control: the same group asks the proxy for a name nobody claims.
      expectListedBy(await versions(at('routed'), open.name, ['1.0.0']), 'remote');
      if (adapter.sharedIndex) await artifact(at('routed'), open, await adapter.artifact(open));
      expect(asked(counted, open.name).length).toBeGreaterThan(0);
    });

    it('writes through a group: a new name goes to the first hosted member, an owned name to its owner', async () => {
      const fresh = pkg('rc-written-new', '1.0.0');
      const answer = await publish(at('all', alice), fresh);
      expect(member(answer)).toBe('local');
      await versions(at('local'), fresh.name, ['1.0.0']);
      await versions(at('second'), fresh.name, 404);

      const owned = pkg('rc-written-owned', '1.0.0', 'bob');
      await publish(at('second', bob), owned);
      const next = pkg('rc-written-owned', '2.0.0', 'bob');
      expect(member(await publish(at('all', bob), next))).toBe('second');
      await versions(at('second'), owned.name, ['1.0.0', '2.0.0']);
      await versions(at('local'), owned.name, 404);
      expectListedBy(await versions(at('all'), owned.name, ['1.0.0', '2.0.0']), 'second');
    });

    it('package ownership: a name is its first publisher\'s; another user\'s publish to it is refused, nothing stored', async () => {
      const first = pkg('rc-mine', '1.0.0', 'bob');
      await publish(at('second', bob), first);
      const before = await host.stored();
      const taken = await adapter.publish(at('second', alice), pkg('rc-mine', '2.0.0', 'alice'));
      expect(taken.status, "alice publishing bob's name").toBe(403);
      expect(await host.stored()).toEqual(before);
      await versions(at('second'), first.name, ['1.0.0']);
      const audited = await host.audit({ action: 'ownership.refused', repository: 'second' });
      expect(audited.some((e) => e.principal === 'alice' && e.package === first.name), JSON.stringify(audited)).toBe(true);
    });

    it('writes through a group: a member refusing the writer is the answer, audited as group.write-refused, nothing stored', async () => {
      const refused = pkg('rc-refused', '1.0.0', 'bob');
      const before = await host.stored();
      const answer = await adapter.publish(at('all', bob), refused);
      expect(answer.status, 'bob may not write to local, the first hosted member').toBe(403);
      expect(await host.stored()).toEqual(before);
      await versions(at('second'), refused.name, 404);
      const audited = await host.audit({ action: 'group.write-refused', repository: 'all' });
      expect(audited.some((e) => e.principal === 'bob' && e.package === refused.name && e.outcome === 'denied'), JSON.stringify(audited)).toBe(true);
    });

    it('package view: the browse API describes a published package from what its format stores (version, files, install line)', async () => {
      const older = pkg('rc-viewed', '1.0.0');
      const newer = pkg('rc-viewed', '2.0.0');
      await publish(at('local', alice), older);
      await publish(at('local', alice), newer);
      const sha256 = async (p: ConformancePackage) => createHash('sha256').update(await adapter.artifact(p)).digest('hex');
      const view = (repository: string, version?: string) => fetchPackageView(host.url, repository, newer.name, version);
      const componentVersion = (p: ConformancePackage) => adapter.componentVersion?.(p.name, p.version) ?? p.version;
      const latest = await view('local');
      expect(latest.versions.map((v) => v.version), 'versions').toEqual(expect.arrayContaining([componentVersion(older), componentVersion(newer)]));
      expect(latest.files.length, 'the latest version names its files (FormatDefinition.packageView)').toBeGreaterThan(0);
      for (const file of latest.files) {
        expect(file.size, `${file.name}: a stored file`).toBeGreaterThan(0);
        expect(file.digests['sha256'], `${file.name}: its digest`).toMatch(/^[0-9a-f]{64}$/);
      }
      expect(latest.files.map((f) => f.digests['sha256']), 'the newest version\'s artifact is among its files').toContain(await sha256(newer));
      expect(latest.install.length, 'an install line (FormatDefinition.installLines)').toBeGreaterThan(0);
      expect(latest.install.some((line) => line.includes(newer.name)), `install lines name the package: ${latest.install.join(' | ')}`).toBe(true);
      const previous = componentVersion(older);
      const asked = await view('local', previous);
      expect(asked.version).toBe(previous);
      expect(asked.files.map((f) => f.digests['sha256']), 'the version asked for is the one described').toContain(await sha256(older));
      expect(asked.files.map((f) => f.digests['sha256'])).not.toContain(await sha256(newer));
      const grouped = await view('all');
      expect(grouped.heldBy, 'through a group: its member that holds the name').toBe('local');
      expect(grouped.files.map((f) => f.digests['sha256'])).toContain(await sha256(newer));
    });

    it('hostile paths and names are answered 4xx and change nothing stored', async () => {
      const seeded = pkg('rc-hostile-seed', '1.0.0');
      await publish(at('local', alice), seeded);
      const before = await host.stored();
      const failures: string[] = [];
      const judge = (what: string, status: number) => {
        if (status < 400 || status > 499) failures.push(`${what}: ${status}`);
      };
      const requests: HostileRequest[] = [];
      for (const repository of ['local', 'remote', 'all']) {
        for (const [label, suffix] of HOSTILE_SUFFIXES) {
          requests.push({ label: `GET ${label} in ${repository}`, method: 'GET', path: `/${repository}/${suffix}` });
          requests.push({ label: `GET ${label} after a name in ${repository}`, method: 'GET', path: `/${repository}/${namePath(seeded.name)}/${suffix}` });
        }
      }
      requests.push(...(adapter.hostileRequests?.({ repository: 'local', group: 'all', token: alice }) ?? []));
      for (const request of requests) {
        const answer: RawResponse = await host.rawRequest(request.path, {
          method: request.method,
          ...(request.headers ? { headers: { ...request.headers } } : {}),
          ...(request.body !== undefined ? { body: request.body } : {}),
        });
        judge(`${request.label} (${request.method} ${request.path.slice(0, 120)})`, answer.status);
      }
      for (const repository of ['local', 'all']) {
        for (const [label, hostileName] of [...HOSTILE_NAMES, ...(adapter.slashInNames ? MISPLACED_SLASH_NAMES : SLASH_NAMES)]) {
          const answer = await adapter.publish(at(repository, alice), { name: hostileName, version: '1.0.0', content: Buffer.from(`hostile ${label}`) });
          judge(`publish a name with ${label} to ${repository}`, answer.status);
        }
      }
      expect(failures, 'hostile requests not answered 4xx').toEqual([]);
      expect(await host.stored(), 'what is stored after the hostile requests').toEqual(before);
      await artifact(at('all'), seeded, await adapter.artifact(seeded));
    });
  });
}
