import type { Readable } from 'node:stream';
import {
  MethodNotAllowedError,
  NotFoundError,
  RegistryError,
  UpstreamError,
  readSmallBody,
  type FormatRequestContext,
  type FormatResponse,
  type MemberResponse,
} from '@registry-core/api';
import { VERSION_POLICY_CODE } from './config.js';
import type { ListingEntry } from './listing.js';
import { mergeMetadata, parseMetadata, renderMetadata, type MavenMetadata } from './metadata.js';
import type { MetadataPath } from './paths.js';
import { checksumResponse, digestOf, xmlResponse } from './responses.js';

const MAX_METADATA_BYTES = 16 * 1024 * 1024;

const statusOf = (response: FormatResponse) => response.status ?? 200;

/** A member's error answer, raised again in the group (its status and message). */
function memberError(response: FormatResponse): RegistryError {
  const body = response.body?.kind === 'json' ? (response.body.value as { error?: unknown; code?: unknown }) : {};
  const message = typeof body.error === 'string' ? body.error : `member answered ${statusOf(response)}`;
  return new RegistryError(typeof body.code === 'string' ? body.code : 'UPSTREAM_FAILED', message, statusOf(response));
}

/** The bytes of a member's answer (a small document: metadata, a listing). */
async function bodyBytes(response: FormatResponse): Promise<Buffer | undefined> {
  const body = response.body;
  if (!body) return undefined;
  switch (body.kind) {
    case 'text':
      return Buffer.from(body.value, 'utf8');
    case 'buffer':
      return body.value;
    case 'json':
      return Buffer.from(JSON.stringify(body.value), 'utf8');
    case 'asset':
      return body.asset.read(MAX_METADATA_BYTES);
    case 'incoming':
      return (await body.incoming.stored).read(MAX_METADATA_BYTES);
    case 'stream':
      return readSmallBody(body.value as Readable, MAX_METADATA_BYTES, 'a member answer');
  }
}

/**
 * No member had it: a 404 when some member said so, a 502 when every member failed.
 * (Members that fail are left out while another answers, as Maven's own view of several
 * repositories does: a missing file is a 404 from the members that could be asked.)
 */
function nothingFound(ctx: FormatRequestContext, path: string, answers: readonly MemberResponse[]): Error {
  if (answers.length > 0 && answers.every((a) => statusOf(a.response) >= 500)) return new UpstreamError(`no member of ${ctx.repository.name} could answer for ${path}`);
  return new NotFoundError(`${path} is not in ${ctx.repository.name}`);
}

/**
 * `maven-metadata.xml` of a group: every member's (those that have one) merged, versions
 * united, `latest`/`release` recomputed; its checksums computed from the merged bytes,
 * never a member's. Members that fail are left out as long as one answers.
 */
export async function getGroupMetadata(ctx: FormatRequestContext, target: MetadataPath): Promise<FormatResponse> {
  const answers = await ctx.repository.members!.all({ method: 'GET', path: `/${target.path}`, headers: {} });
  const documents: MavenMetadata[] = [];
  for (const answer of answers) {
    if (statusOf(answer.response) !== 200) {
      if (statusOf(answer.response) >= 500) ctx.logger.warn('group member failed for metadata', { member: answer.member.name, path: target.path, status: statusOf(answer.response) });
      continue;
    }
    try {
      const bytes = await bodyBytes(answer.response);
      if (bytes) documents.push(parseMetadata(bytes.toString('utf8')));
    } catch (error) {
      ctx.logger.warn('group member answered unreadable metadata', { member: answer.member.name, path: target.path, error: String(error) });
    }
  }
  if (documents.length === 0) throw nothingFound(ctx, target.path, answers);
  const xml = renderMetadata(mergeMetadata(documents));
  return target.checksum ? checksumResponse(digestOf(xml, target.checksum)) : xmlResponse(xml);
}

/** A file (or its checksum) of a group: from the first member, in order, that has it. */
export async function getGroupFile(ctx: FormatRequestContext, path: string): Promise<FormatResponse> {
  const members = ctx.repository.members!;
  // One member at a time, as `first()` does, keeping the refusals to say why nobody had it.
  const answers: MemberResponse[] = [];
  for (const member of members.list) {
    const response = await members.forward(member.name, { method: 'GET', headers: {} });
    if (statusOf(response) >= 200 && statusOf(response) < 300) return response;
    answers.push({ member, response });
  }
  throw nothingFound(ctx, path, answers);
}

/** Every member's listing of a folder, united. */
export async function groupListing(ctx: FormatRequestContext): Promise<ListingEntry[][]> {
  const answers = await ctx.repository.members!.all({ method: 'GET', headers: {} });
  const lists: ListingEntry[][] = [];
  for (const answer of answers) {
    if (statusOf(answer.response) !== 200 || answer.response.body?.kind !== 'json') continue;
    const entries = (answer.response.body.value as { entries?: unknown }).entries;
    if (Array.isArray(entries)) lists.push(entries.filter((e): e is ListingEntry => typeof (e as ListingEntry)?.name === 'string'));
  }
  return lists;
}

/**
 * A deploy through a group goes to its hosted members in order; one whose version policy
 * refuses the version (a release repository and a SNAPSHOT) passes it to the next.
 */
export async function forwardDeploy(ctx: FormatRequestContext): Promise<FormatResponse> {
  const members = ctx.repository.members!;
  const hosted = members.list.filter((m) => m.type === 'hosted');
  if (hosted.length === 0) throw new MethodNotAllowedError(`${ctx.repository.name} has no hosted member to deploy to`);
  let last: FormatResponse | undefined;
  for (const member of hosted) {
    last = await members.forward(member.name);
    const code = last.body?.kind === 'json' ? (last.body.value as { code?: unknown }).code : undefined;
    if (statusOf(last) === 400 && code === VERSION_POLICY_CODE) continue;
    break;
  }
  if (statusOf(last!) >= 400) throw memberError(last!);
  return last!;
}
