import { describe, expect, it } from 'vitest';
import { downloadOf } from './downloads.js';

const served = (assetPath: string, requestPath = `/${assetPath}`) => downloadOf({ assetPath, requestPath, kind: 'content' });

describe('maven downloads', () => {
  it('maps artifact files; POMs and checksums are bytes only; metadata nothing', () => {
    expect(served('org/example/lib/1.0/lib-1.0.jar')).toEqual({ name: 'org.example:lib', version: '1.0' });
    expect(served('org/example/lib/1.0/lib-1.0-sources.jar')).toEqual({ name: 'org.example:lib', version: '1.0' });
    expect(served('org/example/lib/1.0/lib-1.0.pom')).toEqual({ name: 'org.example:lib', version: '1.0', counted: false });
    expect(served('org/example/lib/1.0/lib-1.0.jar.sha1')).toEqual({ name: 'org.example:lib', version: '1.0', counted: false });
    expect(served('org/example/lib/maven-metadata.xml')).toBeUndefined();
  });
});
