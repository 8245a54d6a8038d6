import { describe, expect, it } from 'vitest';
import { goInstallLines, goModView } from './package-view.js';

describe('go package view', () => {
  it('reads require lines and blocks, quoted paths, // indirect, and the go version', () => {
    const goMod = [
      'module example.com/app // the app',
      '',
      'go 1.22',
      '',
      'require golang.org/x/text v0.14.0',
      'require (',
      '\t"example.com/quoted" v1.2.3',
      '\t// a comment line',
      '\texample.com/dep v0.0.0-20240101000000-abcdefabcdef // indirect',
      ')',
      'replace example.com/dep => ../dep',
      'require example.com/bad too many words here',
    ].join('\n');
    expect(goModView(goMod)).toEqual({
      go: '1.22',
      dependencies: [
        { name: 'golang.org/x/text', range: 'v0.14.0', kind: 'direct' },
        { name: 'example.com/quoted', range: 'v1.2.3', kind: 'direct' },
        { name: 'example.com/dep', range: 'v0.0.0-20240101000000-abcdefabcdef', kind: 'indirect' },
      ],
    });
    expect(goModView('module m\n')).toEqual({ dependencies: [] });
  });

  it('gives the go get line for a version, or the latest', () => {
    const repository = { name: 'go', format: 'go', type: 'hosted', url: 'http://h/go/', config: {}, takesWrites: true, reachesUpstream: false } as const;
    expect(goInstallLines(repository, 'example.com/m', 'v1.0.0')).toEqual(['GOPROXY=http://h/go/,direct go get example.com/m@v1.0.0']);
    expect(goInstallLines(repository, 'example.com/m', undefined)).toEqual(['GOPROXY=http://h/go/,direct go get example.com/m@latest']);
  });
});
