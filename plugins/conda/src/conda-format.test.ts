import { describe, expect, it } from 'vitest';
import { condaFormat } from './conda-format.js';
import { parsePackageFilename, tryParsePackageFilename } from './names.js';

describe('conda file names', () => {
  it('splits <name>-<version>-<build>.<ext> from the right', () => {
    expect(parsePackageFilename('python-dateutil-2.9.0-pyhd8ed1ab_0.conda')).toEqual({ filename: 'python-dateutil-2.9.0-pyhd8ed1ab_0.conda', name: 'python-dateutil', version: '2.9.0', build: 'pyhd8ed1ab_0', extension: '.conda' });
    expect(parsePackageFilename('_libgcc_mutex-0.1-conda_forge.tar.bz2')).toMatchObject({ name: '_libgcc_mutex', version: '0.1', build: 'conda_forge', extension: '.tar.bz2' });
    expect(parsePackageFilename('openssl-1!3.0.0-h1_0.conda').version).toBe('1!3.0.0');
  });
  it.each(['x.whl', 'a-1.conda', 'Upper-1.0-0.conda', '../a-1.0-0.conda', 'a/b-1.0-0.conda', 'a-1.0-0.tar.gz', '.a-1.0-0.conda', 'a..b-1.0-0.conda', 'a-1.0-0%2f.conda', 'a-1.0-0\0.conda'])('refuses %j', (name) => {
    expect(tryParsePackageFilename(name)).toBeUndefined();
  });
});

describe('conda client lines', () => {
  const info = { format: 'conda', config: {}, reachesUpstream: true } as const;
  it('gives .condarc, micromamba and pixi lines, and the upload command where uploads land', () => {
    const lines = condaFormat.clientConfig!({ ...info, name: 'conda', type: 'group', url: 'https://h.example/reg/conda/', takesWrites: true });
    expect(lines[0]).toBe('.condarc: channels: [https://h.example/reg/conda]  (or channel_alias: https://h.example/reg and channels: [conda]; or custom_channels: {conda: https://h.example/reg})');
    expect(lines.join('\n')).toContain('micromamba create -c https://h.example/reg/conda -n env <package>');
    expect(lines.join('\n')).toContain('pixi: channels = ["https://h.example/reg/conda"]');
    expect(lines.join('\n')).toContain('registry-core conda upload <files> --repository conda --token <token>');
    expect(condaFormat.clientConfig!({ ...info, name: 'conda-proxy', type: 'proxy', url: 'http://h/conda-proxy/', takesWrites: false }).join('\n')).not.toContain('upload');
  });
});
