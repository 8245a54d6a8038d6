import {
  ForbiddenError,
  NotFoundError,
  UnauthorizedError,
  UpstreamError,
  type CacheStatus,
  type FormatRequestContext,
  type FormatResponse,
  type MemberResponse,
  type RepositoryType,
} from '@registry-core/api';
import type { DistFile, ProjectPage } from './simple-index.js';
import { compareVersions } from './versions.js';

/** `meta` key of a member's page answer: the page comes from hosted members only. */
export const FROM_HOSTED = 'pypi.fromHosted';

/** A merged page, with the member each file comes from. */
export interface GroupPage {
  readonly page: ProjectPage;
  /** filename → member name */
  readonly owners: ReadonlyMap<string, string>;
  readonly hosted: boolean;
  readonly cache?: CacheStatus;
}

const status = (response: FormatResponse) => response.status ?? 200;
const isPage = (answer: MemberResponse) => status(answer.response) === 200 && answer.response.body?.kind === 'json';
const pageOf = (answer: MemberResponse) => (answer.response.body as { value: ProjectPage }).value;
const fromHosted = (answer: MemberResponse) => answer.member.type === 'hosted' || answer.response.meta?.[FROM_HOSTED] === true;

async function ask(ctx: FormatRequestContext, normalized: string, members: readonly { name: string; type: RepositoryType }[]): Promise<MemberResponse[]> {
  const request = { method: 'GET', path: `/simple/${encodeURIComponent(normalized)}/`, headers: { accept: 'application/vnd.pypi.simple.v1+json' } };
  return Promise.all(members.map(async (member) => ({ member, response: await ctx.repository.members!.forward(member.name, request) })));
}

/** A member that refused the client might own the name: answer with its refusal. */
function failClosed(answers: readonly MemberResponse[], normalized: string): void {
  const refused = answers.find((a) => status(a.response) === 401 || status(a.response) === 403);
  if (refused) {
    const message = `${normalized}: ${refused.member.name} refused the request`;
    throw status(refused.response) === 401 ? new UnauthorizedError(message) : new ForbiddenError(message);
  }
  const down = answers.find((a) => status(a.response) >= 500);
  if (down) throw new UpstreamError(`${down.member.name} could not answer for ${normalized}; not answering from the other members alone`);
}

/** Union of files by filename (first member in order wins), versions merged. */
function merge(answers: readonly MemberResponse[], hosted: boolean): GroupPage {
  const owners = new Map<string, string>();
  const files: DistFile[] = [];
  const versions = new Set<string>();
  for (const answer of answers) {
    const page = pageOf(answer);
    for (const file of page.files) {
      if (owners.has(file.filename)) continue;
      owners.set(file.filename, answer.member.name);
      files.push(file);
    }
    for (const version of page.versions) versions.add(version);
  }
  const cache = answers.map((a) => a.response.cache).find((c) => c === 'STALE' || c === 'MISS') ?? answers.find((a) => a.response.cache)?.response.cache;
  return { page: { name: pageOf(answers[0]!).name, files, versions: [...versions].sort(compareVersions) }, owners, hosted, ...(cache ? { cache } : {}) };
}

/**
 * A group's project page with the dependency-confusion guard, tier by tier: hosted members
 * first (a project any of them has is served from them alone, and never asked upstream);
 * then member groups answering from their own hosted members; then everything else,
 * merged in member order. A hosted member that fails or refuses fails the group.
 */
export async function loadGroupPage(ctx: FormatRequestContext, normalized: string): Promise<GroupPage | undefined> {
  const list = ctx.repository.members!.list;
  const hostedAnswers = await ask(ctx, normalized, list.filter((m) => m.type === 'hosted'));
  const owned = hostedAnswers.filter(isPage);
  if (owned.length > 0) return merge(owned, true);
  failClosed(hostedAnswers, normalized);
  const groupAnswers = await ask(ctx, normalized, list.filter((m) => m.type === 'group'));
  const ownedByGroups = groupAnswers.filter((a) => isPage(a) && fromHosted(a));
  if (ownedByGroups.length > 0) return merge(ownedByGroups, true);
  failClosed(groupAnswers, normalized);
  const others = await ask(ctx, normalized, list.filter((m) => m.type !== 'hosted' && m.type !== 'group'));
  const order = new Map(list.map((m, i) => [m.name, i]));
  const found = [...groupAnswers, ...others].filter(isPage).sort((a, b) => order.get(a.member.name)! - order.get(b.member.name)!);
  if (found.length === 0) {
    if (others.some((a) => status(a.response) >= 500)) throw new UpstreamError(`no member could answer for ${normalized}`);
    return undefined;
  }
  return merge(found, false);
}

/** A file (or its metadata) through a group: from the member whose page listed it. */
export async function getGroupFile(ctx: FormatRequestContext, normalized: string, filename: string): Promise<FormatResponse> {
  const merged = await loadGroupPage(ctx, normalized);
  const owner = merged?.owners.get(filename);
  if (!owner) throw new NotFoundError(`${filename} is not in ${ctx.repository.name}`);
  return ctx.repository.members!.forward(owner);
}
