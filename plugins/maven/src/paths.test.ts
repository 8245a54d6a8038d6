import { describe, expect, it } from 'vitest';
import { parseMavenPath } from './paths.js';

describe('Maven repository paths', () => {
  it('reads coordinates, classifier and extension with the artifactId and version the folders name', () => {
    expect(parseMavenPath('/org/slf4j/slf4j-api/2.0.9/slf4j-api-2.0.9.jar')).toEqual({
      kind: 'artifact',
      path: 'org/slf4j/slf4j-api/2.0.9/slf4j-api-2.0.9.jar',
      groupId: 'org.slf4j',
      artifactId: 'slf4j-api',
      version: '2.0.9',
      fileVersion: '2.0.9',
      extension: 'jar',
      snapshot: false,
    });
    expect(parseMavenPath('/com/ex/lib/1.0-tests/lib-1.0-tests.jar')).toMatchObject({ version: '1.0-tests', extension: 'jar' });
    expect(parseMavenPath('/com/ex/lib/1.0/lib-1.0-tests.jar')).toMatchObject({ version: '1.0', classifier: 'tests', extension: 'jar' });
    expect(parseMavenPath('/com/ex/lib/1.0/lib-1.0-linux-x86_64.tar.gz.sha512')).toMatchObject({ classifier: 'linux-x86_64', extension: 'tar.gz', checksum: 'sha512', path: 'com/ex/lib/1.0/lib-1.0-linux-x86_64.tar.gz' });
    expect(parseMavenPath('/com/ex/lib/1.0/lib-1.0.jar.asc.sha1')).toMatchObject({ extension: 'jar.asc', checksum: 'sha1' });
  });

  it('reads timestamped and non-unique SNAPSHOT files', () => {
    expect(parseMavenPath('/com/ex/lib/1.2-SNAPSHOT/lib-1.2-20240101.120000-3-sources.jar')).toMatchObject({
      version: '1.2-SNAPSHOT',
      fileVersion: '1.2-20240101.120000-3',
      classifier: 'sources',
      snapshot: true,
      build: { timestamp: '20240101.120000', buildNumber: 3 },
    });
    const literal = parseMavenPath('/com/ex/lib/1.2-SNAPSHOT/lib-1.2-SNAPSHOT.pom');
    expect(literal).toMatchObject({ fileVersion: '1.2-SNAPSHOT', snapshot: true, extension: 'pom' });
    expect(literal).not.toHaveProperty('build');
  });

  it('tells metadata, other files and folders apart', () => {
    expect(parseMavenPath('/com/ex/lib/maven-metadata.xml')).toEqual({ kind: 'metadata', path: 'com/ex/lib/maven-metadata.xml', directory: ['com', 'ex', 'lib'] });
    expect(parseMavenPath('/com/ex/lib/1.0-SNAPSHOT/maven-metadata.xml.md5')).toMatchObject({ kind: 'metadata', checksum: 'md5', directory: ['com', 'ex', 'lib', '1.0-SNAPSHOT'] });
    expect(parseMavenPath('/archetype-catalog.xml')).toMatchObject({ kind: 'other' });
    expect(parseMavenPath('/.meta/prefixes.txt')).toMatchObject({ kind: 'other' });
    expect(parseMavenPath('/')).toEqual({ kind: 'directory', path: '', segments: [] });
    expect(parseMavenPath('/com/ex/')).toEqual({ kind: 'directory', path: 'com/ex/', segments: ['com', 'ex'] });
  });

  it('does not take a file whose name disagrees with its folders for an artifact', () => {
    for (const p of ['/com/ex/lib/1.0/other-1.0.jar', '/com/ex/lib/1.0/lib-1.1.jar', '/com/ex/lib/1.0/lib-1.0.1.jar', '/com/ex/lib/1.0/lib-1.0', '/com/ex/lib/1.0/lib-1.0-.jar', '/lib/1.0/lib-1.0.jar', '/com/ex/lib/1.0-SNAPSHOT/lib-1.1-20240101.120000-1.jar']) {
      expect(parseMavenPath(p).kind, p).toBe('other');
    }
  });

  it('takes ivy-<version>.xml in a version folder for the version\'s Ivy descriptor (not for an artifact named ivy)', () => {
    expect(parseMavenPath('/com/ex/lib/1.0/ivy-1.0.xml.sha1')).toMatchObject({ kind: 'artifact', groupId: 'com.ex', artifactId: 'lib', version: '1.0', descriptor: 'ivy', checksum: 'sha1', path: 'com/ex/lib/1.0/ivy-1.0.xml' });
    expect(parseMavenPath('/com/ex/lib/1.0-SNAPSHOT/ivy-1.0-SNAPSHOT.xml')).toMatchObject({ kind: 'artifact', snapshot: true, descriptor: 'ivy' });
    expect(parseMavenPath('/org/apache/ivy/ivy/2.5.1/ivy-2.5.1.xml')).not.toHaveProperty('descriptor');
    expect(parseMavenPath('/com/ex/lib/1.0/ivy-1.1.xml').kind).toBe('other');
  });

  it('refuses traversal, encoded separators and characters no Maven path has', () => {
    for (const p of ['/com/../etc/passwd', '/com/%2e%2e/x.jar', '/com/./x', '/com%2fex/lib', '/com\\ex/lib.jar', '/com//lib.jar', '/com/ex/%00.jar', '/com/ex/a b.jar', '/com/ex/%zz', '/com/ex/<x>.pom', '/com/ex/lib/1.0/lib-1.0.jar;x']) {
      expect(() => parseMavenPath(p), p).toThrow(/not allowed|percent-encoding/);
    }
  });
});
