import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { localMavenMirror, mavenFormat } from './maven-format.js';

const settings = (xml: string) => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'rc-m2-')), 'settings.xml');
  writeFileSync(file, xml);
  return file;
};

describe('the Maven format', () => {
  it('takes the zero-config upstream from a mirror of everything (or of central) in settings.xml', () => {
    expect(localMavenMirror(settings('<settings><mirrors><mirror><id>a</id><mirrorOf>other</mirrorOf><url>http://a.example/</url></mirror><mirror><id>b</id><mirrorOf>external:*, !x</mirrorOf><url>https://b.example/maven2</url></mirror></mirrors></settings>'))).toBe('https://b.example/maven2');
    expect(localMavenMirror(settings('<settings><mirrors><mirror><mirrorOf>central</mirrorOf><url>file:///srv/m2</url></mirror></mirrors></settings>'))).toBeUndefined();
    expect(localMavenMirror(settings('<settings/>'))).toBeUndefined();
    expect(localMavenMirror(settings('not xml'))).toBeUndefined();
    expect(localMavenMirror('/nonexistent/settings.xml')).toBeUndefined();
  });

  it('prints mirror, server, deploy and Gradle lines; deploy lines only where deploys go; a mirror of * only where builds find everything', () => {
    const hosted = mavenFormat.clientConfig!({ name: 'maven-local', format: 'maven', type: 'hosted', url: 'http://h:4000/maven-local/', config: {}, takesWrites: true, reachesUpstream: false });
    // A mirror of * to a hosted repository would send every artifact of a build there, and it holds only what was deployed.
    expect(hosted.join('\n')).not.toContain('<mirrorOf>');
    expect(hosted.join('\n')).toContain('<repository><id>maven-local</id><url>http://h:4000/maven-local/</url></repository>');
    const group = mavenFormat.clientConfig!({ name: 'maven', format: 'maven', type: 'group', url: 'http://h:4000/maven/', config: {}, takesWrites: true, reachesUpstream: true });
    expect(group.join('\n')).toContain('<mirror><id>maven</id><mirrorOf>*</mirrorOf><url>http://h:4000/maven/</url></mirror>');
    expect(hosted.join('\n')).toContain('-DaltDeploymentRepository=maven-local::default::http://h:4000/maven-local/');
    expect(hosted.join('\n')).toContain('isAllowInsecureProtocol = true');
    const proxy = mavenFormat.clientConfig!({ name: 'p', format: 'maven', type: 'proxy', url: 'https://h/p/', config: {}, takesWrites: false, reachesUpstream: true });
    expect(proxy.join('\n')).not.toMatch(/deploy|server|Insecure/);
  });
});
