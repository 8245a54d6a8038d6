import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { storedZip } from '@registry-core/testing';
import { describe, expect, it } from 'vitest';
import { parseNuspec, readNuspec } from './nupkg.js';

const dir = mkdtempSync(path.join(tmpdir(), 'rc-nupkg-'));
let n = 0;
function file(bytes: Buffer): string {
  const at = path.join(dir, `${n++}.nupkg`);
  writeFileSync(at, bytes);
  return at;
}
const NUSPEC = '<?xml version="1.0"?><package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd"><metadata><id>Rc.Demo</id><version>1.0</version><authors>a, b</authors><description>d</description><dependencies><group targetFramework="net8.0"><dependency id="Rc.Dep" version="[1.0.0, )"/></group></dependencies></metadata></package>';

describe('reading a .nupkg', () => {
  it('reads the root .nuspec: id, version, dependency groups', async () => {
    const { nuspec } = await readNuspec(file(storedZip([['Rc.Demo.nuspec', Buffer.from(NUSPEC)], ['lib/net8.0/a.dll', Buffer.from('x')]])));
    expect(nuspec.id).toBe('Rc.Demo');
    expect(nuspec.version.numbers).toEqual([1, 0, 0, 0]);
    expect(nuspec.dependencyGroups).toEqual([{ targetFramework: 'net8.0', dependencies: [{ id: 'Rc.Dep', range: '[1.0.0, )' }] }]);
  });

  it('refuses non-zips, missing or doubled .nuspec files, unsafe entries, bad ids', async () => {
    const cases: [string, Buffer, RegExp][] = [
      ['not a zip', Buffer.from('hello'), /not a zip/],
      ['no nuspec', storedZip([['lib/a.dll', Buffer.from('x')]]), /no \.nuspec/],
      ['two nuspecs', storedZip([['a.nuspec', Buffer.from(NUSPEC)], ['b.nuspec', Buffer.from(NUSPEC)]]), /more than one/],
      ['dot-dot', storedZip([['a.nuspec', Buffer.from(NUSPEC)], ['../x', Buffer.from('x')]]), /unsafe path|invalid relative path/],
      ['bad id', storedZip([['a.nuspec', Buffer.from(NUSPEC.replace('Rc.Demo', 'rc/../x'))]]), /not a valid NuGet package id/],
    ];
    for (const [label, bytes, message] of cases) await expect(readNuspec(file(bytes)), label).rejects.toThrow(message);
  });

  it('refuses a DOCTYPE (no entity expansion)', () => {
    expect(() => parseNuspec('<!DOCTYPE p [<!ENTITY e "x">]><package><metadata><id>a</id><version>1.0</version></metadata></package>')).toThrow(/not well-formed/);
  });
});
