import { describe, expect, it } from 'vitest';
import { parseCoreMetadata } from './core-metadata.js';

describe('core metadata', () => {
  it('reads repeated fields, continuation lines and the description body', () => {
    const parsed = parseCoreMetadata(
      'Metadata-Version: 2.1\r\nName: rc-demo-app\nVersion: 1.0.0\nSummary: A demo\nRequires-Python: >=3.8\nRequires-Dist: a>=1\nRequires-Dist: b; extra == "x"\nClassifier: One\nLicense: MIT\n        second line\n\nThe long\ndescription.\n',
    );
    expect(parsed).toMatchObject({ metadataVersion: '2.1', name: 'rc-demo-app', version: '1.0.0', summary: 'A demo', requiresPython: '>=3.8', requiresDist: ['a>=1', 'b; extra == "x"'] });
    expect(parsed.fields['license']).toEqual(['MIT\nsecond line']);
    expect(parsed.description).toBe('The long\ndescription.\n');
  });

  it('refuses metadata without a name or a version', () => {
    expect(() => parseCoreMetadata('Version: 1.0\n')).toThrow(/no "Name"/);
    expect(() => parseCoreMetadata('Name: x\n')).toThrow(/no "Version"/);
    expect(() => parseCoreMetadata('garbage')).toThrow(/no "Name"/);
  });
});
