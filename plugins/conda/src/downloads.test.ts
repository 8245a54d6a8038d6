import { describe, expect, it } from 'vitest';
import { downloadOf } from './downloads.js';

const served = (assetPath: string, requestPath = `/${assetPath}`) => downloadOf({ assetPath, requestPath, kind: 'content' });

describe('conda downloads', () => {
  it('maps a package file of any subdir', () => {
    expect(served('noarch/six-1.16.0-pyhd3eb1b0_1.conda')).toEqual({ name: 'six', version: '1.16.0' });
    expect(served('linux-64/python-dateutil-2.8.2-py_0.tar.bz2')).toEqual({ name: 'python-dateutil', version: '2.8.2' });
    expect(served('noarch/repodata.json')).toBeUndefined();
  });
});
