import { BadRequestError, NotFoundError, PayloadTooLargeError, type Asset, type FormatRequestContext, type HostedRepositoryHandle, type RepositoryHandle, type StoredDocument } from '@registry-core/api';
import { CrateChecker } from './crate-archive.js';
import { parsePublishRequest, type IndexLine, type PublishRequest, type PublishedMetadata } from './index-lines.js';
import { canonicalName, validateCrateName, validateVersion, versionIdentity } from './names.js';
import { publishHead } from './publish-body.js';

/** A hosted crate (`crate/<canonical name>`): its index lines in publish order. */
export interface HostedCrate {
  /** The name as first published: every later version must spell it so. */
  readonly name: string;
  readonly lines: readonly IndexLine[];
  /** The latest publish's description and keywords, for search. */
  readonly metadata?: PublishedMetadata;
}

export const crateKey = (canonical: string) => `crate/${canonical}`;
/** Where a version's .crate is stored (and cached, on a proxy). */
export const cratePath = (name: string, vers: string) => `crates/${name.toLowerCase()}/${name.toLowerCase()}-${vers}.crate`;

export function loadHostedCrate(repo: RepositoryHandle, canonical: string): Promise<StoredDocument<HostedCrate> | undefined> {
  return repo.documents.get<HostedCrate>(crateKey(canonical));
}

/** The publish JSON of a request, checked (read from the body once, shared with a group's member). */
export async function publishRequest(ctx: FormatRequestContext): Promise<PublishRequest> {
  return parsePublishRequest((await publishHead(ctx.body)).json);
}

function collision(existing: string, name: string): BadRequestError {
  return new BadRequestError(`crate ${JSON.stringify(name)} collides with the existing crate ${JSON.stringify(existing)} (names are compared case-insensitively, with - and _ alike); publish it as ${JSON.stringify(existing)}`);
}

/**
 * `PUT /api/v1/crates/new`: the .crate streams to storage (pending, never served) through
 * a checker of its archive and Cargo.toml; the index line is published with it in one
 * transaction.
 */
export async function publish(ctx: FormatRequestContext): Promise<{ warnings: { invalid_categories: string[]; invalid_badges: string[]; other: string[] } }> {
  const request = await publishRequest(ctx);
  const { body } = await publishHead(ctx.body);
  const { name, vers } = request;
  const canonical = canonicalName(name);
  ctx.authorize('write', canonical);
  const repo = ctx.repository as HostedRepositoryHandle;
  const existing = await loadHostedCrate(repo, canonical);
  const check = (current: HostedCrate | undefined) => {
    if (current && current.name !== name) throw collision(current.name, name);
    const same = current?.lines.find((l) => versionIdentity(l.vers) === versionIdentity(vers));
    if (same) throw new BadRequestError(`crate version \`${same.vers}\` of ${name} is already uploaded`, 'CONFLICT');
  };
  check(existing?.value);

  const max = repo.limits.maxUploadBytes;
  const crateLength = await body.length('the .crate', max, (n) => new PayloadTooLargeError(`the .crate of ${n} bytes is over the limit of ${max} bytes`));
  const bytes = body.stream(crateLength, 'the .crate');
  const checked = new CrateChecker({ name, vers }, () => body.end());
  // A body shorter than announced fails the crate's stream, and with it the store.
  bytes.on('error', (error) => checked.destroy(error));
  bytes.pipe(checked);
  const asset: Asset = await repo.assets.put(cratePath(name, vers), checked, { kind: 'content', contentType: 'application/x-tar', expect: { size: crateLength }, maxBytes: max, pending: true });
  const line: IndexLine = { ...request.line, cksum: asset.digests.sha256, yanked: false, pubtime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') };
  let recorded = false;
  try {
    await repo.documents.update<HostedCrate>(
      crateKey(canonical),
      (current) => {
        check(current);
        return { name, lines: [...(current?.lines ?? []), line], metadata: request.metadata };
      },
      { publish: [asset] },
    );
    recorded = true;
  } catch (error) {
    if ((error as { status?: number }).status === 409) throw new BadRequestError(`crate version \`${vers}\` of ${name} is already uploaded`, 'CONFLICT');
    throw error;
  } finally {
    if (!recorded) await repo.assets.discard(asset).catch(() => undefined);
  }
  await repo.components.upsert({
    name: canonical,
    version: vers,
    attributes: { displayName: name, ...(request.metadata.description ? { description: request.metadata.description } : {}), ...(request.metadata.keywords.length ? { keywords: request.metadata.keywords.join(' ') } : {}) },
  });
  await ctx.audit('publish', { package: canonical, version: vers, details: { crate: name, sha256: asset.digests.sha256 } });
  return { warnings: { invalid_categories: [], invalid_badges: [], other: [] } };
}

/** `DELETE …/yank` and `PUT …/unyank`: flips the version's line. */
export async function setYanked(ctx: FormatRequestContext, crate: string, version: string, yanked: boolean): Promise<void> {
  const name = validateCrateName(crate);
  const vers = validateVersion(version);
  const canonical = canonicalName(name);
  ctx.authorize('write', canonical);
  await ctx.repository.documents.update<HostedCrate>(crateKey(canonical), (current) => {
    if (!current) throw new NotFoundError(`crate \`${name}\` does not exist in ${ctx.repository.name}`);
    const at = current.lines.findIndex((l) => l.vers === vers);
    if (at < 0) throw new NotFoundError(`crate \`${name}\` does not have a version \`${vers}\``);
    if (current.lines[at]!.yanked === yanked) return current;
    const lines = [...current.lines];
    lines[at] = { ...lines[at]!, yanked };
    return { ...current, lines };
  });
  await ctx.audit(yanked ? 'yank' : 'unyank', { package: canonical, version: vers });
}
