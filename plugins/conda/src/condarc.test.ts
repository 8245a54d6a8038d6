import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONDA_FORGE, condaDefaultUpstreams, condarcFiles, localCondaForge } from './condarc.js';

describe('the zero-config proxy upstream from .condarc', () => {
  const home = mkdtempSync(path.join(tmpdir(), 'rc-condarc-'));
  const write = (relative: string, text: string) => {
    const file = path.join(home, relative);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
    return file;
  };

  it('is conda-forge when no .condarc moves it', () => {
    expect(condaDefaultUpstreams([path.join(home, 'absent')], {})).toEqual([{ url: CONDA_FORGE, source: 'conda-forge' }]);
    // channel_alias at conda's own default: the same place.
    const same = write('same/.condarc', 'channel_alias: https://conda.anaconda.org\n');
    expect(condaDefaultUpstreams([same], {})).toEqual([{ url: CONDA_FORGE, source: 'conda-forge' }]);
  });

  it("takes channel_alias (a later file's wins), custom_channels' conda-forge over it, CONDA_CHANNEL_ALIAS over the files", () => {
    const system = write('etc/.condarc', 'channel_alias: https://mirror-a.example/conda\n');
    const user = write('user/.condarc', 'channels: [conda-forge]\nchannel_alias: https://mirror-b.example/\n');
    expect(localCondaForge([system, user], {})).toEqual({ url: 'https://mirror-b.example/conda-forge/', source: `channel_alias in ${user}` });
    expect(condaDefaultUpstreams([user, system], {})).toEqual([
      { url: 'https://mirror-a.example/conda/conda-forge/', source: `channel_alias in ${system}` },
      { url: CONDA_FORGE, source: 'conda-forge' },
    ]);
    const custom = write('custom/.condarc', 'custom_channels:\n  conda-forge: https://forge-mirror.example/root\n  bioconda: https://elsewhere.example\n');
    expect(localCondaForge([custom, system], {})?.url).toBe('https://forge-mirror.example/root/conda-forge/');
    expect(localCondaForge([user], { CONDA_CHANNEL_ALIAS: 'http://127.0.0.1:9/alias' })).toEqual({ url: 'http://127.0.0.1:9/alias/conda-forge/', source: 'CONDA_CHANNEL_ALIAS' });
  });

  it('passes over files that are not YAML, and values that are not http(s) URLs', () => {
    const broken = write('broken/.condarc', 'channel_alias: [unclosed\n');
    const odd = write('odd/.condarc', 'channel_alias: file:///srv/channels\ncustom_channels: 7\n');
    const list = write('list/.condarc', '- a\n- b\n');
    expect(localCondaForge([broken, odd, list], {})).toBeUndefined();
  });

  it("reads conda's files in conda's order: system, user, environment, $CONDARC", () => {
    const files = condarcFiles({ CONDA_PREFIX: '/opt/env', CONDARC: '/srv/my.condarc' }, '/home/u');
    expect(files[0]).toBe('/etc/conda/.condarc');
    expect(files).toContain('/home/u/.config/conda/.condarc');
    expect(files.indexOf('/home/u/.condarc')).toBeLessThan(files.indexOf('/opt/env/.condarc'));
    expect(files.at(-1)).toBe('/srv/my.condarc');
    expect(condarcFiles({ XDG_CONFIG_HOME: '/x' }, '/home/u')).toContain('/x/conda/.condarc');
  });
});
