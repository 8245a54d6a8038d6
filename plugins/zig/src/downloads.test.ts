import { describe, expect, it } from 'vitest';
import { downloadOf } from './downloads.js';

const served = (assetPath: string, requestPath = `/${assetPath}`) => downloadOf({ assetPath, requestPath, kind: 'content' });

describe('zig downloads', () => {
  it('maps hosted archives; fetched ones by URL or hash', () => {
    expect(served('packages/zap/0.1.0/archive')).toEqual({ name: 'zap', version: '0.1.0' });
    expect(downloadOf({ requestPath: '/url/https/example.com/a/b.tar.gz', assetPath: 'archives/abc', kind: 'content' })).toEqual({ name: 'example.com/a/b.tar.gz', version: '' });
    expect(downloadOf({ requestPath: '/fetch', assetPath: 'archives/abc', kind: 'content' })).toEqual({ name: 'archive:abc', version: '' });
    expect(served('packages/zap/index')).toBeUndefined();
  });
});
