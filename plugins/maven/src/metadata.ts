import { BadRequestError } from '@registry-core/api';
import { child, childText, children, escapeXml, parseXml, XmlError, type XmlElement } from '@registry-core/api';
import { compareVersions, isSnapshotVersion, sortVersions } from './versions.js';

/** One `<snapshotVersion>`: the newest build of one classifier/extension of a SNAPSHOT. */
export interface SnapshotVersion {
  readonly classifier?: string;
  readonly extension: string;
  /** `1.0-20240101.120000-3` */
  readonly value: string;
  /** `yyyyMMddHHmmss` */
  readonly updated?: string;
}

/** `<plugin>` of group-level metadata (plugin prefix resolution). */
export interface PluginEntry {
  readonly name?: string;
  readonly prefix: string;
  readonly artifactId: string;
}

/** A `maven-metadata.xml` of any level: group (plugins), artifact (versions), SNAPSHOT version. */
export interface MavenMetadata {
  readonly groupId?: string;
  readonly artifactId?: string;
  readonly version?: string;
  readonly versioning?: {
    readonly latest?: string;
    readonly release?: string;
    readonly versions: readonly string[];
    readonly lastUpdated?: string;
    readonly snapshot?: { readonly timestamp?: string; readonly buildNumber?: number; readonly localCopy?: boolean };
    readonly snapshotVersions: readonly SnapshotVersion[];
  };
  readonly plugins: readonly PluginEntry[];
}

function parseDocument(text: string, what: string, root: string): XmlElement {
  let element: XmlElement;
  try {
    element = parseXml(text);
  } catch (error) {
    if (error instanceof XmlError) throw new BadRequestError(`${what} is not well-formed XML: ${error.message}`, 'INVALID_XML');
    throw error;
  }
  if (element.name !== root) throw new BadRequestError(`${what} must have a <${root}> root element, not <${element.name}>`, 'INVALID_XML');
  return element;
}

/** Parse a `maven-metadata.xml`; throws a BadRequestError when it is not one. */
export function parseMetadata(text: string): MavenMetadata {
  const root = parseDocument(text, 'maven-metadata.xml', 'metadata');
  const versioning = child(root, 'versioning');
  const snapshot = child(versioning, 'snapshot');
  const buildNumber = childText(snapshot, 'buildNumber');
  const groupId = childText(root, 'groupId');
  const artifactId = childText(root, 'artifactId');
  const version = childText(root, 'version');
  const parsedVersioning: MavenMetadata['versioning'] = versioning
    ? {
        ...(childText(versioning, 'latest') ? { latest: childText(versioning, 'latest')! } : {}),
        ...(childText(versioning, 'release') ? { release: childText(versioning, 'release')! } : {}),
        versions: children(child(versioning, 'versions'), 'version')
          .map((v) => v.text)
          .filter((v) => v !== ''),
        ...(childText(versioning, 'lastUpdated') ? { lastUpdated: childText(versioning, 'lastUpdated')! } : {}),
        ...(snapshot
          ? {
              snapshot: {
                ...(childText(snapshot, 'timestamp') ? { timestamp: childText(snapshot, 'timestamp')! } : {}),
                ...(buildNumber && /^\d{1,9}$/.test(buildNumber) ? { buildNumber: Number(buildNumber) } : {}),
                ...(childText(snapshot, 'localCopy') === 'true' ? { localCopy: true } : {}),
              },
            }
          : {}),
        snapshotVersions: children(child(versioning, 'snapshotVersions'), 'snapshotVersion').flatMap((sv) => {
          const extension = childText(sv, 'extension');
          const value = childText(sv, 'value');
          if (!extension || !value) return [];
          const classifier = childText(sv, 'classifier');
          const updated = childText(sv, 'updated');
          return [{ ...(classifier ? { classifier } : {}), extension, value, ...(updated ? { updated } : {}) }];
        }),
      }
    : undefined;
  const plugins = children(child(root, 'plugins'), 'plugin').flatMap((p) => {
    const prefix = childText(p, 'prefix');
    const pluginArtifact = childText(p, 'artifactId');
    if (!prefix || !pluginArtifact) return [];
    const name = childText(p, 'name');
    return [{ ...(name ? { name } : {}), prefix, artifactId: pluginArtifact }];
  });
  return {
    ...(groupId ? { groupId } : {}),
    ...(artifactId ? { artifactId } : {}),
    ...(version ? { version } : {}),
    ...(parsedVersioning ? { versioning: parsedVersioning } : {}),
    plugins,
  };
}

const tag = (name: string, value: string | number | undefined, indent: string) => (value === undefined ? '' : `${indent}<${name}>${escapeXml(String(value))}</${name}>\n`);

/** Serialize metadata the way Maven writes it. */
export function renderMetadata(metadata: MavenMetadata): string {
  const v = metadata.versioning;
  const modelVersion = v && v.snapshotVersions.length > 0 ? ' modelVersion="1.1.0"' : '';
  let out = `<?xml version="1.0" encoding="UTF-8"?>\n<metadata${modelVersion}>\n`;
  out += tag('groupId', metadata.groupId, '  ') + tag('artifactId', metadata.artifactId, '  ') + tag('version', metadata.version, '  ');
  if (v) {
    out += '  <versioning>\n';
    out += tag('latest', v.latest, '    ') + tag('release', v.release, '    ');
    if (v.snapshot) {
      out += '    <snapshot>\n' + tag('timestamp', v.snapshot.timestamp, '      ') + tag('buildNumber', v.snapshot.buildNumber, '      ');
      out += v.snapshot.localCopy ? '      <localCopy>true</localCopy>\n' : '';
      out += '    </snapshot>\n';
    }
    if (v.versions.length > 0) out += `    <versions>\n${v.versions.map((x) => tag('version', x, '      ')).join('')}    </versions>\n`;
    out += tag('lastUpdated', v.lastUpdated, '    ');
    if (v.snapshotVersions.length > 0) {
      out += '    <snapshotVersions>\n';
      for (const sv of v.snapshotVersions) {
        out += `      <snapshotVersion>\n${tag('classifier', sv.classifier, '        ')}${tag('extension', sv.extension, '        ')}${tag('value', sv.value, '        ')}${tag('updated', sv.updated, '        ')}      </snapshotVersion>\n`;
      }
      out += '    </snapshotVersions>\n';
    }
    out += '  </versioning>\n';
  }
  if (metadata.plugins.length > 0) {
    out += '  <plugins>\n';
    for (const p of metadata.plugins) out += `    <plugin>\n${tag('name', p.name, '      ')}${tag('prefix', p.prefix, '      ')}${tag('artifactId', p.artifactId, '      ')}    </plugin>\n`;
    out += '  </plugins>\n';
  }
  return `${out}</metadata>\n`;
}

/** `versions` sorted in Maven's order without duplicates, with `latest` and `release` computed. */
export function versionsSummary(versions: Iterable<string>): { versions: string[]; latest?: string; release?: string } {
  const sorted = sortVersions([...new Set(versions)]);
  const releases = sorted.filter((v) => !isSnapshotVersion(v));
  return { versions: sorted, ...(sorted.length > 0 ? { latest: sorted.at(-1)! } : {}), ...(releases.length > 0 ? { release: releases.at(-1)! } : {}) };
}

const maxString = (values: readonly (string | undefined)[]) => values.filter((v): v is string => v !== undefined).sort().at(-1);
const snapshotKey = (sv: SnapshotVersion) => `${sv.classifier ?? ''}:${sv.extension}`;
/** Newer build first: by `updated`, then by the value's timestamp and build number. */
function newer(a: SnapshotVersion, b: SnapshotVersion): boolean {
  const ua = a.updated ?? '';
  const ub = b.updated ?? '';
  if (ua !== ub) return ua > ub;
  return compareVersions(a.value, b.value) > 0;
}

/**
 * Merge several members' metadata of one path: versions united and sorted, `latest` and
 * `release` recomputed, `lastUpdated` the newest, the SNAPSHOT build the newest, the
 * snapshotVersions the newest per classifier and extension, plugins united by prefix.
 */
export function mergeMetadata(documents: readonly MavenMetadata[]): MavenMetadata {
  const first = documents[0];
  const withVersioning = documents.filter((d) => d.versioning);
  const plugins = new Map<string, PluginEntry>();
  for (const d of documents) for (const p of d.plugins) if (!plugins.has(p.prefix)) plugins.set(p.prefix, p);
  let versioning: MavenMetadata['versioning'];
  if (withVersioning.length > 0) {
    const summary = versionsSummary(withVersioning.flatMap((d) => d.versioning!.versions));
    const snapshots = withVersioning
      .map((d) => d.versioning!.snapshot)
      .filter((s): s is NonNullable<typeof s> => s !== undefined)
      .sort((a, b) => ((a.timestamp ?? '') === (b.timestamp ?? '') ? (a.buildNumber ?? 0) - (b.buildNumber ?? 0) : (a.timestamp ?? '') < (b.timestamp ?? '') ? -1 : 1));
    const byKey = new Map<string, SnapshotVersion>();
    for (const d of withVersioning) {
      for (const sv of d.versioning!.snapshotVersions) {
        const known = byKey.get(snapshotKey(sv));
        if (!known || newer(sv, known)) byKey.set(snapshotKey(sv), sv);
      }
    }
    const lastUpdated = maxString(withVersioning.map((d) => d.versioning!.lastUpdated));
    versioning = {
      ...(summary.latest ? { latest: summary.latest } : {}),
      ...(summary.release ? { release: summary.release } : {}),
      versions: summary.versions,
      ...(lastUpdated ? { lastUpdated } : {}),
      ...(snapshots.length > 0 ? { snapshot: snapshots.at(-1)! } : {}),
      snapshotVersions: [...byKey.values()],
    };
  }
  return {
    ...(first?.groupId ? { groupId: first.groupId } : {}),
    ...(withVersioning[0]?.artifactId ?? first?.artifactId ? { artifactId: (withVersioning[0]?.artifactId ?? first?.artifactId)! } : {}),
    ...(withVersioning[0]?.version ?? first?.version ? { version: (withVersioning[0]?.version ?? first?.version)! } : {}),
    ...(versioning ? { versioning } : {}),
    plugins: [...plugins.values()],
  };
}

/** What a POM says about its own coordinates (inherited from `<parent>` where it says nothing). */
export interface PomCoordinates {
  readonly groupId?: string;
  readonly artifactId?: string;
  readonly version?: string;
  readonly packaging: string;
}

/** Parse a POM's coordinates; throws a BadRequestError when it is not a POM. */
export function parsePomCoordinates(text: string): PomCoordinates {
  const project = parseDocument(text, 'the POM', 'project');
  const parent = child(project, 'parent');
  const groupId = childText(project, 'groupId') ?? childText(parent, 'groupId');
  const artifactId = childText(project, 'artifactId');
  const version = childText(project, 'version') ?? childText(parent, 'version');
  return { ...(groupId ? { groupId } : {}), ...(artifactId ? { artifactId } : {}), ...(version ? { version } : {}), packaging: childText(project, 'packaging') ?? 'jar' };
}

/** What an Ivy descriptor (`<ivy-module><info organisation module revision>`) says it describes. */
export function parseIvyCoordinates(text: string): { organisation?: string; module?: string; revision?: string } {
  const info = child(parseDocument(text, 'the Ivy descriptor', 'ivy-module'), 'info');
  if (!info) throw new BadRequestError('the Ivy descriptor has no <info> element', 'INVALID_XML');
  const { organisation, module, revision } = info.attributes;
  return { ...(organisation ? { organisation } : {}), ...(module ? { module } : {}), ...(revision ? { revision } : {}) };
}

/** `yyyyMMddHHmmss` in UTC, Maven's `lastUpdated`. */
export function lastUpdatedStamp(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}
