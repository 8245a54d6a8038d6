import { describe, expect, it } from 'vitest';
import { lastUpdatedStamp, mergeMetadata, parseMetadata, parsePomCoordinates, renderMetadata, type MavenMetadata } from './metadata.js';

const ARTIFACT = `<?xml version="1.0" encoding="UTF-8"?>
<metadata>
  <groupId>com.example</groupId>
  <artifactId>lib</artifactId>
  <versioning>
    <latest>1.10</latest>
    <release>1.10</release>
    <versions><version>1.9</version><version>1.10</version></versions>
    <lastUpdated>20240101120000</lastUpdated>
  </versioning>
</metadata>`;

const SNAPSHOT = `<metadata modelVersion="1.1.0">
  <groupId>com.example</groupId><artifactId>lib</artifactId><version>1.2-SNAPSHOT</version>
  <versioning>
    <snapshot><timestamp>20240101.120000</timestamp><buildNumber>3</buildNumber></snapshot>
    <lastUpdated>20240101120000</lastUpdated>
    <snapshotVersions>
      <snapshotVersion><extension>jar</extension><value>1.2-20240101.120000-3</value><updated>20240101120000</updated></snapshotVersion>
      <snapshotVersion><classifier>sources</classifier><extension>jar</extension><value>1.2-20240101.120000-3</value><updated>20240101120000</updated></snapshotVersion>
    </snapshotVersions>
  </versioning>
</metadata>`;

describe('maven-metadata.xml', () => {
  it('parses artifact-level and SNAPSHOT metadata, and renders what it parsed', () => {
    const artifact = parseMetadata(ARTIFACT);
    expect(artifact).toEqual({
      groupId: 'com.example',
      artifactId: 'lib',
      versioning: { latest: '1.10', release: '1.10', versions: ['1.9', '1.10'], lastUpdated: '20240101120000', snapshotVersions: [] },
      plugins: [],
    });
    const snapshot = parseMetadata(SNAPSHOT);
    expect(snapshot.version).toBe('1.2-SNAPSHOT');
    expect(snapshot.versioning?.snapshot).toEqual({ timestamp: '20240101.120000', buildNumber: 3 });
    expect(snapshot.versioning?.snapshotVersions).toHaveLength(2);
    for (const doc of [artifact, snapshot]) expect(parseMetadata(renderMetadata(doc))).toEqual(doc);
    expect(renderMetadata(snapshot)).toContain('<metadata modelVersion="1.1.0">');
  });

  it('parses group-level plugin prefixes', () => {
    const doc = parseMetadata('<metadata><plugins><plugin><name>Demo</name><prefix>demo</prefix><artifactId>demo-maven-plugin</artifactId></plugin><plugin><prefix>x</prefix></plugin></plugins></metadata>');
    expect(doc.plugins).toEqual([{ name: 'Demo', prefix: 'demo', artifactId: 'demo-maven-plugin' }]);
  });

  it('refuses documents that are not metadata', () => {
    expect(() => parseMetadata('this is not xml')).toThrow(/not well-formed XML/);
    expect(() => parseMetadata('<project/>')).toThrow(/<metadata> root/);
  });

  it('merges members: versions united in Maven order, latest and release recomputed, newest snapshot build', () => {
    const a = parseMetadata(ARTIFACT);
    const b: MavenMetadata = {
      groupId: 'com.example',
      artifactId: 'lib',
      versioning: { latest: '2.0-SNAPSHOT', release: '1.2', versions: ['1.2', '1.9', '2.0-SNAPSHOT'], lastUpdated: '20250101000000', snapshotVersions: [] },
      plugins: [],
    };
    expect(mergeMetadata([a, b]).versioning).toEqual({ latest: '2.0-SNAPSHOT', release: '1.10', versions: ['1.2', '1.9', '1.10', '2.0-SNAPSHOT'], lastUpdated: '20250101000000', snapshotVersions: [] });

    const older = parseMetadata(SNAPSHOT);
    const newer = parseMetadata(SNAPSHOT.replaceAll('20240101.120000-3', '20240202.080000-4').replace('<timestamp>20240101.120000</timestamp><buildNumber>3', '<timestamp>20240202.080000</timestamp><buildNumber>4').replaceAll('<updated>20240101120000', '<updated>20240202080000').replace(/<snapshotVersion><classifier>sources.*?<\/snapshotVersion>/s, ''));
    const merged = mergeMetadata([older, newer]);
    expect(merged.version).toBe('1.2-SNAPSHOT');
    expect(merged.versioning?.snapshot).toEqual({ timestamp: '20240202.080000', buildNumber: 4 });
    expect(merged.versioning?.snapshotVersions).toEqual([
      { extension: 'jar', value: '1.2-20240202.080000-4', updated: '20240202080000' },
      { classifier: 'sources', extension: 'jar', value: '1.2-20240101.120000-3', updated: '20240101120000' },
    ]);
    expect(mergeMetadata([{ plugins: [{ prefix: 'a', artifactId: 'a-plugin' }] }, { plugins: [{ prefix: 'a', artifactId: 'other' }, { prefix: 'b', artifactId: 'b-plugin' }] }]).plugins).toEqual([
      { prefix: 'a', artifactId: 'a-plugin' },
      { prefix: 'b', artifactId: 'b-plugin' },
    ]);
  });

  it('stamps lastUpdated as yyyyMMddHHmmss UTC', () => {
    expect(lastUpdatedStamp(new Date('2024-03-04T05:06:07.890Z'))).toBe('20240304050607');
  });
});

describe('POM coordinates', () => {
  it('reads its own coordinates, inheriting groupId and version from the parent', () => {
    expect(parsePomCoordinates('<project><groupId>g</groupId><artifactId>a</artifactId><version>1</version><packaging>pom</packaging></project>')).toEqual({ groupId: 'g', artifactId: 'a', version: '1', packaging: 'pom' });
    expect(parsePomCoordinates('<project xmlns="http://maven.apache.org/POM/4.0.0"><parent><groupId>pg</groupId><artifactId>p</artifactId><version>2</version></parent><artifactId>a</artifactId></project>')).toEqual({ groupId: 'pg', artifactId: 'a', version: '2', packaging: 'jar' });
  });

  it('refuses what is not a POM', () => {
    expect(() => parsePomCoordinates('{"not": "xml"}')).toThrow(/not well-formed XML/);
    expect(() => parsePomCoordinates('<metadata/>')).toThrow(/<project> root/);
  });
});
