import { describe, expect, it } from 'vitest';
import { downloadOf } from './downloads.js';

const served = (assetPath: string, requestPath = `/${assetPath}`) => downloadOf({ assetPath, requestPath, kind: 'content' });

describe('oci downloads', () => {
  it('counts a manifest by tag or digest; blobs are bytes only', () => {
    expect(downloadOf({ requestPath: '/v2/team/app/manifests/1.0', assetPath: 'team/app/_tags/1.0', kind: 'metadata' })).toEqual({ name: 'team/app', version: '1.0' });
    expect(downloadOf({ requestPath: '/v2/app/manifests/sha256:ab', assetPath: 'app/_manifests/sha256/ab', kind: 'content' })).toEqual({ name: 'app', version: 'sha256:ab' });
    expect(downloadOf({ requestPath: '/v2/app/blobs/sha256:cd', assetPath: 'app/_blobs/sha256/cd', kind: 'content' })).toEqual({ name: 'app', version: '', counted: false });
    expect(downloadOf({ requestPath: '/v2/app/tags/list', assetPath: 'app/_taglist', kind: 'metadata' })).toBeUndefined();
  });

  it('maps a stored file alone (a proxy\'s cached packages): a cached tag is that version, digests are no version', () => {
    expect(served('team/app/_tags/1.0')).toEqual({ name: 'team/app', version: '1.0' });
    expect(served('team/app/_manifests/sha256/ab')).toEqual({ name: 'team/app', version: '', counted: false });
    expect(served('app/_blobs/sha256/cd')).toEqual({ name: 'app', version: '', counted: false });
    expect(served('app/_taglist')).toBeUndefined();
    expect(served('app/_referrers/sha256/ab')).toBeUndefined();
  });
});
