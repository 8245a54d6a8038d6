import { createHash, createPublicKey, verify } from 'node:crypto';

/**
 * The checksum database's transparency log, as the go command checks it
 * (https://go.dev/design/25530-sumdb; golang.org/x/mod/sumdb/note and sumdb/tlog): a signed
 * note (Ed25519) over the tree head, RFC 6962 Merkle hashing, hash tiles of height 8.
 * Written from those specifications; every input here is untrusted.
 */

/** The go command's verifier key of sum.golang.org (cmd/go's knownGOSUMDB). */
export const SUM_GOLANG_ORG_KEY = 'sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8';

/** Tile height of the checksum database (tlog's tiles of 2^8 hashes). */
export const TILE_HEIGHT = 8;
const TILE_WIDTH = 1 << TILE_HEIGHT;
const HASH_SIZE = 32;

/** Thrown for anything that does not verify: a forged note, a record outside the tree, a bad tile. */
export class SumdbVerificationError extends Error {}

const fail = (why: string): never => {
  throw new SumdbVerificationError(why);
};

const sha256 = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();

/** A note verifier key: `<name>+<hash hex>+<base64 of 0x01 and the Ed25519 public key>`. */
export interface VerifierKey {
  readonly name: string;
  /** The first four bytes of sha256(name "\n" key): what a signature line starts with. */
  readonly hash: Buffer;
  readonly publicKey: import('node:crypto').KeyObject;
}

export function parseVerifierKey(text: string): VerifierKey {
  // The key's base64 may hold `+`: the name and hash end at the first two.
  const m = /^([^+]*)\+([^+]*)\+(.*)$/s.exec(text);
  if (!m) fail('a verifier key is <name>+<hash>+<key>');
  const [, name, hashHex, key] = m as unknown as [string, string, string, string];
  if (name === '' || /[\s+]/.test(name) || !/^[0-9a-f]{8}$/.test(hashHex)) fail('a verifier key is <name>+<8 hex digits>+<key>');
  const keyBytes = Buffer.from(key, 'base64');
  if (keyBytes.toString('base64') !== key || keyBytes.length !== 33 || keyBytes[0] !== 1) fail('a verifier key must hold an Ed25519 public key (algorithm 1)');
  const hash = sha256(Buffer.from(`${name}\n`), keyBytes).subarray(0, 4);
  if (hash.toString('hex') !== hashHex) fail(`the verifier key's hash does not match its name and key`);
  const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: keyBytes.subarray(1).toString('base64url') }, format: 'jwk' });
  return { name, hash, publicKey };
}

/**
 * The text of a note signed by `key` (note.Open): the text up to the last blank line, and
 * among the signature lines after it one of `key`'s that verifies. Other signatures are ignored.
 */
export function openNote(note: string, key: VerifierKey): string {
  if (note.length > 1024 * 1024) fail('the note is too long');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) fail('the note has no signatures');
  const text = note.slice(0, split + 1);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0009\u000b-\u001f\u007f]/.test(text)) fail('the note text holds control characters');
  const lines = note.slice(split + 2).split('\n');
  if (lines.pop() !== '') fail('the note does not end with a newline');
  for (const line of lines) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m) fail('a malformed signature line');
    if (m![1] !== key.name) continue;
    const bytes = Buffer.from(m![2]!, 'base64');
    if (bytes.length !== 4 + 64 || !bytes.subarray(0, 4).equals(key.hash)) continue;
    if (verify(null, Buffer.from(text), key.publicKey, bytes.subarray(4))) return text;
    fail(`the note's signature by ${key.name} does not verify`);
  }
  return fail(`the note is not signed by ${key.name}`);
}

/** A tree head: its size (records) and root hash. */
export interface Tree {
  readonly n: number;
  readonly hash: Buffer;
}

/** tlog.ParseTree over a note's verified text. */
export function parseTree(text: string): Tree {
  const m = /^go\.sum database tree\n(0|[1-9]\d{0,15})\n([A-Za-z0-9+/]{43}=)\n/.exec(text);
  if (!m) fail('not a go.sum database tree');
  const n = Number(m![1]);
  const hash = Buffer.from(m![2]!, 'base64');
  if (!Number.isSafeInteger(n) || hash.length !== HASH_SIZE) fail('a malformed tree head');
  return { n, hash };
}

/** A lookup's answer (tlog.ParseRecord, then the signed tree note): `<id>\n<text>\n<note>`. */
export function parseLookup(body: string): { id: number; text: string; note: string } {
  const m = /^(0|[1-9]\d{0,15})\n((?:[^\n]+\n)+)\n/.exec(body);
  if (!m) fail('a malformed lookup answer');
  const id = Number(m![1]);
  if (!Number.isSafeInteger(id)) fail('a malformed record id');
  return { id, text: m![2]!, note: body.slice(m![0].length) };
}

/** RFC 6962 leaf hash of a record (tlog.RecordHash). */
export const recordHash = (text: string | Buffer) => sha256(Buffer.from([0]), Buffer.from(text));
/** RFC 6962 interior node hash (tlog.NodeHash). */
export const nodeHash = (left: Buffer, right: Buffer) => sha256(Buffer.from([1]), left, right);

/** One hash tile: height 8, `level`, `index`, `width` hashes (a partial tile when under 256). */
export interface Tile {
  readonly level: number;
  readonly index: number;
  readonly width: number;
}

/** The tile's path under the database's URL: `tile/8/<L>/x001/234[.p/<W>]` (tlog.Tile.Path). */
export function tilePath(tile: Tile): string {
  let n = tile.index;
  let path = String(n % 1000).padStart(3, '0');
  for (n = Math.floor(n / 1000); n > 0; n = Math.floor(n / 1000)) path = `x${String(n % 1000).padStart(3, '0')}/${path}`;
  return `tile/${TILE_HEIGHT}/${tile.level}/${path}${tile.width < TILE_WIDTH ? `.p/${tile.width}` : ''}`;
}

/** Reads a tile's bytes (32 bytes a hash); what it resolves is checked for size. */
export type TileReader = (tile: Tile) => Promise<Buffer>;

/**
 * Hashes of complete subtrees of a tree of `n` records, read from its tiles: the subtree of
 * height `h` and index `i` covers records [i·2^h, (i+1)·2^h), and comes from tile level
 * ⌊h/8⌋, where each hash covers 256^level records, hashed up the remaining levels.
 */
class TileHashes {
  private readonly tiles = new Map<string, Promise<Buffer>>();
  constructor(
    private readonly n: number,
    private readonly read: TileReader,
  ) {}

  private tile(level: number, index: number): Promise<Buffer> {
    const entries = Math.floor(this.n / TILE_WIDTH ** level);
    const width = Math.min(TILE_WIDTH, entries - index * TILE_WIDTH);
    const key = `${level}/${index}`;
    let got = this.tiles.get(key);
    if (!got) {
      got = this.read({ level, index, width }).then((bytes) => {
        if (bytes.length !== width * HASH_SIZE) fail(`the tile ${tilePath({ level, index, width })} holds ${bytes.length} bytes, not ${width * HASH_SIZE}`);
        return bytes;
      });
      this.tiles.set(key, got);
    }
    return got;
  }

  /** The hash of the complete subtree of height `h`, index `i` (inside the tree). */
  async subtree(h: number, i: number): Promise<Buffer> {
    const level = Math.floor(h / TILE_HEIGHT);
    const sub = h - level * TILE_HEIGHT;
    const first = i * 2 ** sub;
    const tile = await this.tile(level, Math.floor(first / TILE_WIDTH));
    const at = first % TILE_WIDTH;
    let hashes: Buffer[] = [];
    for (let k = 0; k < 2 ** sub; k++) hashes.push(tile.subarray((at + k) * HASH_SIZE, (at + k + 1) * HASH_SIZE));
    while (hashes.length > 1) {
      const up: Buffer[] = [];
      for (let k = 0; k < hashes.length; k += 2) up.push(nodeHash(hashes[k]!, hashes[k + 1]!));
      hashes = up;
    }
    return hashes[0]!;
  }

  /** MTH(D[lo:hi]) of RFC 6962 for a node of the tree's shape (hi − lo a power of two and aligned, or ending at n). */
  async range(lo: number, hi: number): Promise<Buffer> {
    const size = hi - lo;
    const h = Math.log2(size);
    if (Number.isInteger(h) && lo % size === 0) return this.subtree(h, lo / size);
    const k = largestPowerOfTwoBelow(size);
    return nodeHash(await this.range(lo, lo + k), await this.range(lo + k, hi));
  }
}

function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * Check that `leaf` is record `id` of `tree` (tlog.ProveRecord and CheckRecord in one): the
 * root is recomputed from the leaf and the sibling subtrees read from tiles, and must be
 * the signed one. The tiles are not trusted: a wrong hash gives a wrong root.
 */
export async function checkInclusion(tree: Tree, id: number, leaf: Buffer, read: TileReader): Promise<void> {
  if (id < 0 || id >= tree.n) fail(`record ${id} is not in a tree of ${tree.n} records`);
  const hashes = new TileHashes(tree.n, read);
  const root = async (lo: number, hi: number): Promise<Buffer> => {
    if (hi - lo === 1) return leaf;
    const k = largestPowerOfTwoBelow(hi - lo);
    return id < lo + k ? nodeHash(await root(lo, lo + k), await hashes.range(lo + k, hi)) : nodeHash(await hashes.range(lo, lo + k), await root(lo + k, hi));
  };
  if (!(await root(0, tree.n)).equals(tree.hash)) fail(`record ${id} is not in the signed tree of ${tree.n} records`);
}

/**
 * Check that `older` is a prefix of `newer` (tlog.ProveTree and CheckTree in one): the older
 * root and the newer one are both recomputed from the newer tree's tiles, the newer one
 * through the very subtrees the older one is made of, and must be the signed ones. A
 * database that showed two different trees (a fork) fails here.
 */
export async function checkConsistency(older: Tree, newer: Tree, read: TileReader): Promise<void> {
  if (older.n > newer.n) return checkConsistency(newer, older, read);
  if (older.n === newer.n) {
    if (!older.hash.equals(newer.hash)) fail(`two different trees of ${older.n} records were signed`);
    return;
  }
  if (older.n === 0) return;
  const hashes = new TileHashes(newer.n, read);
  if (!(await hashes.range(0, older.n)).equals(older.hash)) fail(`the tree of ${newer.n} records does not extend the one of ${older.n}`);
  // A node of the newer tree is inside the older part, after it, or split at its end.
  const root = async (lo: number, hi: number): Promise<Buffer> => {
    if (hi <= older.n || lo >= older.n) return hashes.range(lo, hi);
    const k = largestPowerOfTwoBelow(hi - lo);
    return nodeHash(await root(lo, lo + k), await root(lo + k, hi));
  };
  if (!(await root(0, newer.n)).equals(newer.hash)) fail(`the tree of ${newer.n} records does not extend the one of ${older.n}`);
}

/**
 * Verify a lookup answer for `module@version` against `key`: the note's signature, the
 * record's inclusion in the signed tree; resolves the record's `h1:` hashes of the zip and
 * of the go.mod, as its go.sum lines give them.
 */
export async function verifyLookup(body: string, module: string, version: string, key: VerifierKey, read: TileReader): Promise<{ zip?: string; mod?: string; tree: Tree }> {
  const { id, text, note } = parseLookup(body);
  const tree = parseTree(openNote(note, key));
  await checkInclusion(tree, id, recordHash(text), read);
  const sums: { zip?: string; mod?: string } = {};
  for (const line of text.trimEnd().split('\n')) {
    const [path, v, hash, extra] = line.split(' ');
    if (extra !== undefined || path !== module || hash === undefined || !hash.startsWith('h1:')) fail(`the record of ${module}@${version} holds an unexpected line`);
    if (v === version) sums.zip = hash;
    else if (v === `${version}/go.mod`) sums.mod = hash;
    else fail(`the record of ${module}@${version} names another version`);
  }
  return { ...sums, tree };
}
