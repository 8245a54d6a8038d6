import { describe, expect, it } from 'vitest';
import { downloadOf } from './downloads.js';

const served = (assetPath: string, requestPath = `/${assetPath}`) => downloadOf({ assetPath, requestPath, kind: 'content' });

describe('go downloads', () => {
  it('maps a module zip (case-unescaped); go.mod is bytes only; .info nothing', () => {
    expect(served('github.com/!azure/sdk/@v/v1.2.0.zip')).toEqual({ name: 'github.com/Azure/sdk', version: 'v1.2.0' });
    expect(served('example.com/m/@v/v0.1.0.mod')).toEqual({ name: 'example.com/m', version: 'v0.1.0', counted: false });
    expect(served('example.com/m/@v/v0.1.0.info')).toBeUndefined();
  });
});
