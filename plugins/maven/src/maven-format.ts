import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import {
  BadRequestError,
  MethodNotAllowedError,
  NotFoundError,
  basicChallenge,
  plainTextErrorBody,
  type FormatDefinition,
  type FormatRequestContext,
  type FormatResponse,
  type RepositoryInfo,
  type RouteDefinition,
} from '@registry-core/api';
import { validateRepository } from './config.js';
import { forwardDeploy, getGroupFile, getGroupMetadata, groupListing } from './group.js';
import { deployFile, deployMetadata, deploySidecar, getHostedFile, getHostedMetadata, hostedListing, metadataPackage } from './hosted.js';
import { listStored, mergeListings, renderListing, sortListing, type ListingEntry } from './listing.js';
import { parseMavenPath, type DirectoryPath } from './paths.js';
import { getProxyFile } from './proxy.js';
import { childText, children, child, parseXml } from './xml.js';

/** A folder: HTML for people, JSON entries for a group merging its members' folders. */
async function listing(ctx: FormatRequestContext, target: DirectoryPath): Promise<FormatResponse> {
  const repo = ctx.repository;
  let entries: ListingEntry[];
  if (repo.type === 'hosted') entries = await hostedListing(repo, target.segments);
  else if (repo.type === 'proxy') entries = await listStored(repo.assets, target.path);
  else entries = mergeListings(await groupListing(ctx));
  entries = sortListing(entries);
  if (ctx.viaGroup) return { body: { kind: 'json', value: { entries } }, cachePolicy: 'no-store' };
  if (entries.length === 0 && target.segments.length > 0) throw new NotFoundError(`no folder /${target.path} in ${repo.name}`);
  const html = renderListing(`${repo.name}/${target.path}`, entries, target.segments.length === 0);
  return { body: { kind: 'text', value: html, contentType: 'text/html; charset=utf-8' }, cachePolicy: 'no-store' };
}

async function get(ctx: FormatRequestContext): Promise<FormatResponse> {
  const target = parseMavenPath(ctx.path);
  if (target.kind === 'directory') return listing(ctx, target);
  // Version lists are read rules' business as much as the files are.
  if (target.kind === 'metadata') ctx.authorize('read', metadataPackage(target.directory));
  const repo = ctx.repository;
  if (repo.type === 'proxy') return getProxyFile(ctx, target);
  if (repo.type === 'group') return target.kind === 'metadata' ? getGroupMetadata(ctx, target) : getGroupFile(ctx, target.path);
  if (target.kind === 'metadata') return getHostedMetadata(ctx, target);
  if (target.kind === 'artifact') return getHostedFile(ctx, target);
  throw new NotFoundError(`${target.path} is not in ${repo.name}`);
}

async function put(ctx: FormatRequestContext): Promise<FormatResponse> {
  const repo = ctx.repository;
  const drain = () => (ctx.body as NodeJS.ReadableStream | undefined)?.resume();
  let target;
  try {
    target = parseMavenPath(ctx.path);
  } catch (error) {
    drain();
    throw error;
  }
  if (repo.type === 'proxy') {
    drain();
    throw new MethodNotAllowedError(`${repo.name} is a proxy: deploy to a hosted repository (or a group with one)`);
  }
  if (repo.type === 'group') return forwardDeploy(ctx);
  switch (target.kind) {
    case 'metadata':
      return deployMetadata(ctx, target);
    case 'artifact':
      return target.checksum ? deploySidecar(ctx, target, target.checksum) : deployFile(ctx, target);
    default:
      drain();
      throw new BadRequestError(
        `/${target.path} does not name an artifact: expected <groupId as folders>/<artifactId>/<version>/<artifactId>-<version>[-<classifier>].<extension>`,
        'COORDINATES_MISMATCH',
      );
  }
}

const routes: RouteDefinition[] = [
  { method: 'GET', path: '/', permission: 'read', handler: get },
  { method: 'GET', path: '/*rest', permission: 'read', handler: get },
  { method: 'PUT', path: '/*rest', permission: 'write', body: { kind: 'stream' }, handler: put },
];

/** Maven Central, the repository Maven itself uses without a mirror. */
export const MAVEN_CENTRAL = 'https://repo.maven.apache.org/maven2/';

/**
 * The repository the local Maven is configured with: the URL of a mirror of `*` or
 * `central` in `~/.m2/settings.xml`; `undefined` without one.
 */
export function localMavenMirror(settingsFile = path.join(homedir(), '.m2', 'settings.xml')): string | undefined {
  let text: string;
  try {
    text = readFileSync(settingsFile, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const mirrors = children(child(parseXml(text), 'mirrors'), 'mirror');
    const mirror = mirrors.find((m) => (childText(m, 'mirrorOf') ?? '').split(',').some((of) => ['*', 'central', 'external:*'].includes(of.trim())));
    const url = childText(mirror, 'url');
    if (!url) return undefined;
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}

function clientConfig(repo: RepositoryInfo): string[] {
  const id = repo.name;
  const insecure = repo.url.startsWith('http:');
  const lines = [
    `settings.xml: <mirror><id>${id}</id><mirrorOf>*</mirrorOf><url>${repo.url}</url></mirror>`,
    `Gradle: repositories { maven { url = uri("${repo.url}")${insecure ? '; isAllowInsecureProtocol = true' : ''} } }`,
  ];
  if (repo.type !== 'proxy') {
    lines.push(
      `settings.xml: <server><id>${id}</id><username>USER</username><password>TOKEN</password></server>`,
      `mvn deploy -DaltDeploymentRepository=${id}::default::${repo.url}  (or pom.xml <distributionManagement><repository><id>${id}</id><url>${repo.url}</url></repository>)`,
      `Gradle: publishing { repositories { maven { url = uri("${repo.url}")${insecure ? '; isAllowInsecureProtocol = true' : ''}; credentials { username = "USER"; password = "TOKEN" } } } }`,
    );
  }
  return lines;
}

export const mavenFormat: FormatDefinition = {
  id: 'maven',
  routes,
  // mvn prints the status line ("Return code is: 409, ReasonPhrase: ..."): the message goes there.
  errorBody: plainTextErrorBody,
  // Maven (Wagon) sends credentials only after a challenge.
  authChallenge: basicChallenge,
  clientConfig,
  validateRepository,
  // The proxy's default upstream: the local Maven's mirror, else Maven Central.
  defaultUpstream: () => localMavenMirror() ?? MAVEN_CENTRAL,
};
