import { describe, expect, it } from 'vitest';
import { downloadOf } from './downloads.js';

const served = (assetPath: string, requestPath = `/${assetPath}`) => downloadOf({ assetPath, requestPath, kind: 'content' });

describe('cargo downloads', () => {
  it('maps a crate file', () => {
    expect(served('crates/serde-json/serde-json-1.0.0-rc.1.crate')).toEqual({ name: 'serde-json', version: '1.0.0-rc.1' });
    expect(served('crates/serde/other-1.0.0.crate')).toBeUndefined();
    expect(served('config.json')).toBeUndefined();
  });
});
