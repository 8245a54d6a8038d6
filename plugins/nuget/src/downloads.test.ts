import { describe, expect, it } from 'vitest';
import { downloadOf } from './downloads.js';

const served = (assetPath: string, requestPath = `/${assetPath}`) => downloadOf({ assetPath, requestPath, kind: 'content' });

describe('nuget downloads', () => {
  it('maps a nupkg; the nuspec is bytes only', () => {
    expect(served('v3-flatcontainer/newtonsoft.json/13.0.1/newtonsoft.json.13.0.1.nupkg')).toEqual({ name: 'newtonsoft.json', version: '13.0.1' });
    expect(served('v3-flatcontainer/newtonsoft.json/13.0.1/newtonsoft.json.nuspec')).toEqual({ name: 'newtonsoft.json', version: '13.0.1', counted: false });
    expect(served('v3-flatcontainer/newtonsoft.json/index.json')).toBeUndefined();
  });
});
