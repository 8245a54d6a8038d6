import { describe, expect, it } from 'vitest';
import { downloadOf } from './downloads.js';

const served = (assetPath: string, requestPath = `/${assetPath}`) => downloadOf({ assetPath, requestPath, kind: 'content' });

describe('npm downloads', () => {
  it('maps a tarball, scoped or not, to its version', () => {
    expect(served('left-pad/-/left-pad-1.3.0.tgz')).toEqual({ name: 'left-pad', version: '1.3.0' });
    expect(served('@scope/pkg/-/pkg-2.0.0-beta.1.tgz')).toEqual({ name: '@scope/pkg', version: '2.0.0-beta.1' });
  });
  it('counts no packument and no foreign file', () => {
    expect(served('-/packument/left-pad')).toBeUndefined();
    expect(served('left-pad/-/other-1.0.0.tgz')).toBeUndefined();
  });
});
