import { describe, expect, it } from 'vitest';
import { downloadOf } from './downloads.js';

const served = (assetPath: string, requestPath = `/${assetPath}`) => downloadOf({ assetPath, requestPath, kind: 'content' });

describe('pypi downloads', () => {
  it('maps wheels and sdists; metadata files are bytes only', () => {
    expect(served('packages/foo-bar/foo_bar-1.2.3-py3-none-any.whl')).toEqual({ name: 'foo-bar', version: '1.2.3' });
    expect(served('packages/foo-bar/foo-bar-1.2.3.tar.gz')).toEqual({ name: 'foo-bar', version: '1.2.3' });
    expect(served('packages/foo-bar/foo_bar-1.2.3-py3-none-any.whl.metadata')).toEqual({ name: 'foo-bar', version: '1.2.3', counted: false });
    expect(served('simple/foo-bar/')).toBeUndefined();
  });
});
