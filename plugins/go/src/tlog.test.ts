import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fakeSumdbTree } from '../../../test/helpers/go-sumdb.js';
import { SUM_GOLANG_ORG_KEY, checkConsistency, openNote, parseTree, parseVerifierKey, tilePath, verifyLookup, type Tile } from './tlog.js';

// Vectors from the test's fake checksum database (the one the go command verifies in
// test/go/go-clients.test.ts), and tampered copies of them.
const h1 = (n: number, salt = '') => `h1:${Buffer.alloc(32, `${n}${salt}`).toString('base64')}`;
const record = (n: number, salt = '') => `example.com/m${n} v1.0.${n} ${h1(n, salt)}\nexample.com/m${n} v1.0.${n}/go.mod ${h1(n, `mod${salt}`)}\n`;
const records = (n: number) => Array.from({ length: n }, (_, i) => record(i));

function reader(tiles: ReadonlyMap<string, Buffer>, read: string[] = []) {
  return async (tile: Tile) => {
    read.push(tilePath(tile));
    const bytes = tiles.get(tilePath(tile));
    if (!bytes) throw new Error(`no ${tilePath(tile)}`);
    return bytes;
  };
}

describe('checksum database verification', () => {
  it("takes sum.golang.org's published key and refuses keys whose hash does not match", () => {
    expect(parseVerifierKey(SUM_GOLANG_ORG_KEY).name).toBe('sum.golang.org');
    expect(() => parseVerifierKey(SUM_GOLANG_ORG_KEY.replace('033de0ae', '033de0af'))).toThrow(/hash/);
    expect(() => parseVerifierKey('sum.golang.org+033de0ae')).toThrow();
    expect(() => parseVerifierKey(SUM_GOLANG_ORG_KEY.replace('+Ac4', '+Ad4'))).toThrow();
  });

  it('writes tile paths as tlog does', () => {
    expect(tilePath({ level: 0, index: 0, width: 5 })).toBe('tile/8/0/000.p/5');
    expect(tilePath({ level: 1, index: 1234067, width: 256 })).toBe('tile/8/1/x001/x234/067');
  });

  // A record alone; an odd tree; a full tile; two levels of tiles.
  it.each([1, 2, 3, 256, 257, 300])('proves records of a tree of %i into the signed tree', async (n) => {
    const db = fakeSumdbTree('sum.rc.test', records(n));
    const key = parseVerifierKey(db.verifierKey);
    for (const id of [...new Set([0, Math.floor(n / 2), n - 1])]) {
      const read: string[] = [];
      const sums = await verifyLookup(db.lookups.get(`example.com/m${id}@v1.0.${id}`)!, `example.com/m${id}`, `v1.0.${id}`, key, reader(db.tiles, read));
      expect(sums).toMatchObject({ zip: h1(id), mod: h1(id, 'mod'), tree: { n } });
      // At most one tile a level is read for a record, and each is read once.
      expect(new Set(read).size).toBe(read.length);
      expect(read.length).toBeLessThanOrEqual(2 * Math.ceil(Math.log(n + 1) / Math.log(256)) + 1);
    }
  });

  it('refuses tampered records, notes, keys and tiles', async () => {
    const db = fakeSumdbTree('sum.rc.test', records(300));
    const key = parseVerifierKey(db.verifierKey);
    const body = db.lookups.get('example.com/m299@v1.0.299')!;
    const check = (text: string, tiles = db.tiles, k = key, module = 'example.com/m299') => verifyLookup(text, module, 'v1.0.299', k, reader(tiles));
    await expect(check(body)).resolves.toMatchObject({ zip: h1(299) });
    // Another hash in the record: not the leaf the signed tree holds.
    await expect(check(body.replace(h1(299), h1(299, 'x')))).rejects.toThrow(/not in the signed tree/);
    // Another record id.
    await expect(check(body.replace(/^299\n/, '298\n'))).rejects.toThrow(/not in the signed tree/);
    await expect(check(body.replace(/^299\n/, '300\n'))).rejects.toThrow(/not in a tree of 300/);
    // A note whose text changed after signing; one signed by another key; one not signed.
    await expect(check(body.replace('\n300\n', '\n301\n'))).rejects.toThrow(/does not verify/);
    const other = fakeSumdbTree('sum.rc.test', records(300));
    await expect(check(other.lookups.get('example.com/m299@v1.0.299')!)).rejects.toThrow(/not signed by|does not verify/);
    await expect(check(body.slice(0, body.lastIndexOf('\u2014')))).rejects.toThrow(/not signed by/);
    // A correctly signed tree head whose root holds other records (a key holder's lie is still caught against tiles).
    const lie = fakeSumdbTree('sum.rc.test', [...records(299), record(299, 'x')], { ...generateKeyPairSync('ed25519') });
    const liar = parseVerifierKey(lie.verifierKey);
    const forged = body.slice(0, body.indexOf('go.sum database tree')) + lie.signedTree;
    await expect(check(forged, db.tiles, liar)).rejects.toThrow(/not in the signed tree/);
    // A wrong hash in a tile (the level-1 hash of records 0-255, or a sibling in the partial tile), or a tile of the wrong size.
    for (const path of ['tile/8/1/000.p/1', 'tile/8/0/001.p/44']) {
      const tiles = new Map(db.tiles);
      const bytes = Buffer.from(tiles.get(path)!);
      bytes[7]! ^= 1;
      await expect(check(body, tiles.set(path, bytes))).rejects.toThrow(/not in the signed tree/);
      await expect(check(body, tiles.set(path, bytes.subarray(32)))).rejects.toThrow(/holds \d+ bytes, not/);
    }
    // The record must be the module's and version's.
    await expect(check(body, db.tiles, key, 'example.com/m298')).rejects.toThrow(/unexpected line/);
  });

  it('proves an older tree a prefix of a newer one, and catches a fork', async () => {
    const tree = (db: ReturnType<typeof fakeSumdbTree>) => parseTree(openNote(db.signedTree, parseVerifierKey(db.verifierKey)));
    const key = generateKeyPairSync('ed25519');
    const big = fakeSumdbTree('sum.rc.test', records(300), key);
    for (const n of [1, 2, 5, 255, 256, 257, 299, 300]) {
      const small = fakeSumdbTree('sum.rc.test', records(n), key);
      await expect(checkConsistency(tree(small), tree(big), reader(big.tiles))).resolves.toBeUndefined();
      await expect(checkConsistency(tree(big), tree(small), reader(big.tiles))).resolves.toBeUndefined();
    }
    // A tree of 5 whose fourth record differs: not a prefix of the tree of 300 (nor the same tree of 5).
    const forked = fakeSumdbTree('sum.rc.test', [...records(3), record(3, 'x'), record(4)], key);
    await expect(checkConsistency(tree(forked), tree(big), reader(big.tiles))).rejects.toThrow(/does not extend/);
    await expect(checkConsistency(tree(forked), tree(fakeSumdbTree('sum.rc.test', records(5), key)), reader(big.tiles))).rejects.toThrow(/two different trees/);
    // Tiles that give the older root but not the newer one.
    const tiles = new Map(big.tiles);
    const partial = Buffer.from(tiles.get('tile/8/0/001.p/44')!);
    partial[0]! ^= 1;
    await expect(checkConsistency(tree(fakeSumdbTree('sum.rc.test', records(256), key)), tree(big), reader(tiles.set('tile/8/0/001.p/44', partial)))).rejects.toThrow(/does not extend/);
  });
});
