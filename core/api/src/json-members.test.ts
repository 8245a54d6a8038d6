import { describe, expect, it } from 'vitest';
import { jsonObjectMembers, type JsonMember } from './json-members.js';

async function members(text: string, chunkSize: number, descend?: (key: string) => boolean, maxMemberBytes = 1024): Promise<{ parent?: string; key?: string; value: unknown }[]> {
  const bytes = Buffer.from(text);
  async function* chunks() {
    for (let i = 0; i < bytes.length; i += chunkSize) yield bytes.subarray(i, i + chunkSize);
  }
  const out: { parent?: string; key?: string; value: unknown }[] = [];
  for await (const m of jsonObjectMembers(chunks(), { maxMemberBytes, ...(descend ? { descend } : {}) }) as AsyncIterable<JsonMember>) {
    out.push({ ...(m.parent !== undefined ? { parent: m.parent } : {}), ...(m.key !== undefined ? { key: m.key } : {}), value: JSON.parse(m.raw.toString('utf8')) });
  }
  return out;
}

const doc = {
  info: { subdir: 'noarch', 'odd "key" {[,:': 'va}l]ue,\\' },
  packages: { 'a-1-0.tar.bz2': { name: 'a', depends: ['b >=1,<2', '{x}'] }, 'ü-1-0.tar.bz2': { name: 'ü' } },
  removed: ['x-1-0.conda', 'y-1-0.conda'],
  empty: {},
  n: 1,
};

describe('jsonObjectMembers', () => {
  it('gives top-level members whole and descended ones member by member, the same at every chunk size', async () => {
    const expected = [
      { key: 'info', value: doc.info },
      { parent: 'packages', key: 'a-1-0.tar.bz2', value: doc.packages['a-1-0.tar.bz2'] },
      { parent: 'packages', key: 'ü-1-0.tar.bz2', value: doc.packages['ü-1-0.tar.bz2'] },
      { parent: 'removed', value: 'x-1-0.conda' },
      { parent: 'removed', value: 'y-1-0.conda' },
      { key: 'empty', value: {} },
      { key: 'n', value: 1 },
    ];
    for (const text of [JSON.stringify(doc), JSON.stringify(doc, null, 2)]) {
      for (const size of [1, 2, 3, 7, 64, 100_000]) expect(await members(text, size, (k) => k === 'packages' || k === 'removed'), `chunks of ${size}`).toEqual(expected);
    }
    expect(await members(JSON.stringify(doc), 5)).toEqual(Object.entries(doc).map(([key, value]) => ({ key, value })));
    expect(await members('{}', 1)).toEqual([]);
    expect(await members('{"packages":{}}', 1, () => true)).toEqual([]);
  });

  it('refuses what is not an object, what ends early, and a member over the limit', async () => {
    for (const bad of ['[1,2]', '{"a":1', '{"a":{"b":1}', '{"a":1}}', '{"a":1} x', '', '{"a"}']) await expect(members(bad, 3), bad).rejects.toThrow(SyntaxError);
    await expect(members(JSON.stringify({ big: 'x'.repeat(2000) }), 100)).rejects.toThrow(/larger than 1024 bytes/);
    expect(await members(JSON.stringify({ p: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'x'.repeat(500)])) }), 100, () => true)).toHaveLength(50);
  });
});
