import { describe, expect, it } from 'vitest';
import { firstProxy, goFormat } from './go-format.js';

describe('go format', () => {
  it('prints GOPROXY lines, and the checksum-database exclusion and publish command where writes land', () => {
    const info = { format: 'go', config: {}, reachesUpstream: true } as const;
    const group = goFormat.clientConfig!({ ...info, name: 'go', type: 'group', url: 'http://h:4000/go/', takesWrites: true });
    expect(group[0]).toBe('export GOPROXY=http://h:4000/go/,direct');
    expect(group.join('\n')).toMatch(/GONOSUMDB=/);
    expect(group.join('\n')).toContain('-T module.zip http://h:4000/go/<module>/@v/<version>.zip');
    const proxy = goFormat.clientConfig!({ ...info, name: 'p', type: 'proxy', url: 'http://h:4000/p/', takesWrites: false });
    expect(proxy.join('\n')).not.toMatch(/GONOSUMDB|curl/);
  });

  it('reads the first proxy of a GOPROXY list as the default upstream', () => {
    expect(firstProxy('https://a.example/x,https://b.example|direct')).toBe('https://a.example/x/');
    expect(firstProxy('direct')).toBeUndefined();
    expect(firstProxy('off')).toBeUndefined();
    expect(firstProxy(undefined)).toBeUndefined();
  });
});
