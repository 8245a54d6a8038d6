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

  it('names the go env file: GOPROXY, with the token in the URL over HTTPS only (the go command refuses it over HTTP)', () => {
    const info = { format: 'go', name: 'go', type: 'group', config: {}, reachesUpstream: true, takesWrites: true } as const;
    const setting = (url: string, token?: string) => goFormat.clientSettings!({ ...info, url }, token);
    expect(setting('https://h.example/go/', 'rc_abc')).toEqual([{ client: 'go', path: '.config/go/env', syntax: 'ini', settings: [{ key: 'GOPROXY', value: 'https://__token__:rc_abc@h.example/go/,direct' }] }]);
    expect(setting('https://h.example/go/')[0]!.settings[0]!.value).toBe('https://h.example/go/,direct');
    expect(setting('http://h:4000/go/', 'rc_abc')[0]!.settings[0]!.value).toBe('http://h:4000/go/,direct');
  });

  it('reads the first proxy of a GOPROXY list as the default upstream', () => {
    expect(firstProxy('https://a.example/x,https://b.example|direct')).toBe('https://a.example/x/');
    expect(firstProxy('direct')).toBeUndefined();
    expect(firstProxy('off')).toBeUndefined();
    expect(firstProxy(undefined)).toBeUndefined();
  });
});
