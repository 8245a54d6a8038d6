import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import {
  MethodNotAllowedError,
  NotFoundError,
  basicChallenge,
  plainTextErrorBody,
  type FormatDefinition,
  type FormatRequestContext,
  type FormatResponse,
  serveDocument,
  type HandlersByKind,
  type RepositoryInfo,
  type RouteDefinition,
  type ClientSettingsFile,
} from '@registry-core/api';
import { versionSpace } from './config.js';
import { listingDocument, metadataDocument, readableMetadata } from './documents.js';
import { deployPlan, readPlan } from './group.js';
import { deployFile, deployMetadata, deploySidecar, drainBody, getHostedFile, metadataPackage, notAnArtifact } from './hosted.js';
import { parseMavenPath } from './paths.js';
import { MAX_METADATA_BYTES, getProxyFile } from './proxy.js';
import { childText, children, child, parseXml } from '@registry-core/api';
import { downloadOf } from './downloads.js';
import { mavenInstallLines, mavenPackageView } from './package-view.js';

const notHere = (ctx: FormatRequestContext) => new NotFoundError(`${ctx.path.slice(1) || '/'} is not in ${ctx.repository.name}`);
const serveListing = serveDocument(listingDocument, notHere);
const serveMetadata = serveDocument(metadataDocument, notHere);

/** `GET` on a hosted or proxy repository (a group answers by {@link readPlan}). */
const get: HandlersByKind = {
  async hosted(ctx) {
    const target = parseMavenPath(ctx.path);
    if (target.kind === 'directory') return serveListing(ctx);
    if (target.kind === 'metadata') return serveMetadata(ctx);
    if (target.kind === 'artifact') return getHostedFile(ctx, target);
    throw new NotFoundError(`${target.path} is not in ${ctx.repository.name}`);
  },
  async proxy(ctx, repo) {
    const target = parseMavenPath(ctx.path);
    if (target.kind === 'directory') return serveListing(ctx);
    if (target.kind === 'metadata') readableMetadata(ctx);
    return getProxyFile(ctx, repo.upstream, target);
  },
};

/** `PUT` (a deploy) on a hosted repository (a group sends it on by {@link deployPlan}). */
async function put(ctx: FormatRequestContext): Promise<FormatResponse> {
  const repo = ctx.repository;
  let target;
  try {
    target = parseMavenPath(ctx.path);
  } catch (error) {
    drainBody(ctx);
    throw error;
  }
  switch (target.kind) {
    case 'metadata':
      return deployMetadata(ctx, target);
    case 'artifact':
      return target.checksum ? deploySidecar(ctx, target, target.checksum) : deployFile(ctx, target);
    default:
      drainBody(ctx);
      throw notAnArtifact(target.path);
  }
}

const routes: RouteDefinition[] = [
  { method: 'GET', path: '/', permission: 'read', handler: get, group: readPlan },
  { method: 'GET', path: '/*rest', permission: 'read', handler: get, group: readPlan },
  { method: 'PUT', path: '/*rest', permission: 'write', body: { kind: 'stream' }, handler: put, group: deployPlan },
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
  // A mirror of `*` sends every request of a build to it: right where names are asked of an
  // upstream, but a hosted repository (or a group of hosted ones) holds only what was deployed.
  const resolveFrom = repo.reachesUpstream
    ? `settings.xml: <mirror><id>${id}</id><mirrorOf>*</mirrorOf><url>${repo.url}</url></mirror>`
    : `settings.xml (besides your mirror, in an active <profile>): <repositories><repository><id>${id}</id><url>${repo.url}</url></repository></repositories>`;
  const lines = [resolveFrom, `Gradle: repositories { maven { url = uri("${repo.url}")${insecure ? '; isAllowInsecureProtocol = true' : ''} } }`];
  if (repo.takesWrites) {
    lines.push(
      `settings.xml: <server><id>${id}</id><username>USER</username><password>TOKEN</password></server>`,
      `mvn deploy -DaltDeploymentRepository=${id}::default::${repo.url}  (or pom.xml <distributionManagement><repository><id>${id}</id><url>${repo.url}</url></repository>)`,
      `Gradle: publishing { repositories { maven { url = uri("${repo.url}")${insecure ? '; isAllowInsecureProtocol = true' : ''}; credentials { username = "USER"; password = "TOKEN" } } } }`,
    );
  }
  return lines;
}

/**
 * Maven's `~/.m2/settings.xml`: where names are asked of an upstream, a `<mirror>` of `*` (every
 * request of a build through the repository); otherwise the repository in an active
 * `<profile>` (besides the user's own repositories); and, with a token, a `<server>` with the
 * same id carrying it (`__token__` and the token), which mvn uses for both.
 */
function clientSettings(repo: RepositoryInfo, token: string | undefined): ClientSettingsFile[] {
  const id = repo.name;
  const profile = `registry-core-${id}`;
  const resolve = repo.reachesUpstream
    ? [
        { section: `settings/mirrors/mirror[id=${id}]`, key: 'mirrorOf', value: '*' },
        { section: `settings/mirrors/mirror[id=${id}]`, key: 'url', value: repo.url },
      ]
    : [
        { section: `settings/profiles/profile[id=${profile}]/repositories/repository[id=${id}]`, key: 'url', value: repo.url },
        { section: 'settings/activeProfiles', key: 'activeProfile', value: profile, listItem: true },
      ];
  const server =
    token === undefined
      ? []
      : [
          { section: `settings/servers/server[id=${id}]`, key: 'username', value: '__token__' },
          { section: `settings/servers/server[id=${id}]`, key: 'password', value: token },
        ];
  return [{ client: 'mvn', path: '.m2/settings.xml', syntax: 'xml', settings: [...server, ...resolve] }, gradleInitScript(repo, token)];
}

/** A Groovy string literal of `text`. */
const groovy = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * Gradle's `~/.gradle/init.d/registry-core-<repository>.gradle`, run before every build: the
 * repository (with the token as `__token__`'s password, when given) for every project's
 * dependencies and for the settings' plugins. Gradle has no mirrors: where the repository
 * reaches an upstream the script also drops the other repositories a build declares, as a
 * `<mirror>` of `*` does for mvn.
 */
function gradleInitScript(repo: RepositoryInfo, token: string | undefined): ClientSettingsFile {
  const only = repo.reachesUpstream;
  const lines = [
    `// registry-core: ${repo.name} for every build (written by registry-core setup ${repo.name} --client gradle)`,
    'def registryCore = { RepositoryHandler repositories ->',
    ...(only ? ['  repositories.removeAll { it.name != \'registryCore\' }'] : []),
    '  if (repositories.findByName(\'registryCore\') == null) {',
    '    repositories.maven {',
    "      name = 'registryCore'",
    `      url = ${groovy(repo.url)}`,
    ...(repo.url.startsWith('http:') ? ['      allowInsecureProtocol = true'] : []),
    ...(token === undefined ? [] : [`      credentials { username = '__token__'; password = ${groovy(token)} }`]),
    '    }',
    '  }',
    '}',
    'settingsEvaluated { settings -> registryCore(settings.pluginManagement.repositories) }',
    `allprojects { ${only ? 'afterEvaluate { project -> registryCore(project.repositories) }; ' : ''}registryCore(repositories) }`,
    '',
  ];
  return { client: 'gradle', path: `.gradle/init.d/registry-core-${repo.name}.gradle`, syntax: 'whole', settings: [], content: lines.join('\n') };
}

export const mavenFormat: FormatDefinition = {
  downloadOf,
  id: 'maven',
  routes,
  // mvn prints the status line ("Return code is: 409, ReasonPhrase: ..."): the message goes there.
  errorBody: plainTextErrorBody,
  // Maven (Wagon) sends credentials only after a challenge.
  authChallenge: basicChallenge,
  clientConfig,
  clientSettings,
  packageView: mavenPackageView,
  installLines: mavenInstallLines,
  versionSpace,
  maxMetadataBytes: MAX_METADATA_BYTES,
  // The proxy's default upstream: the local Maven's mirror, else (or when the mirror is this
  // registry itself) Maven Central.
  defaultUpstream: () => {
    const mirror = localMavenMirror();
    return [...(mirror ? [{ url: mirror, source: 'the mirror in ~/.m2/settings.xml' }] : []), { url: MAVEN_CENTRAL, source: 'Maven Central' }];
  },
  // An artifact's maven-metadata.xml (`groupId:artifactId`): what the kernel asks a group's
  // proxies before a new artifact is deployed. A groupId's own metadata (plugin prefixes) is not checked.
  packageDocumentPath: (name) => {
    const [groupId = '', artifactId = ''] = name.split(':');
    if (groupId === '' || artifactId === '') return undefined;
    return `/${groupId.split('.').map(encodeURIComponent).join('/')}/${encodeURIComponent(artifactId)}/maven-metadata.xml`;
  },
};
