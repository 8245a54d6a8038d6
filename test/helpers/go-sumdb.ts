import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A Go checksum database of the test's own, in golang.org/x/mod/sumdb's wire format: records,
 * a signed tree head (a note signed with Ed25519), RFC 6962 hash tiles of height 8 at every
 * level. Kept free of other test helpers so unit tests can build vectors with it too.
 */
export interface FakeSumdbTree {
  readonly name: string;
  /** The GOSUMDB value: `<name>+<key hash>+<public key>`. */
  readonly verifierKey: string;
  /** The signed tree head (`latest`). */
  readonly signedTree: string;
  /** The lookup answer of `<escaped module>@<escaped version>`, as `lookup/` serves it. */
  readonly lookups: ReadonlyMap<string, string>;
  /** Tile paths (`tile/8/0/000.p/5`) to their bytes. */
  readonly tiles: ReadonlyMap<string, Buffer>;
  /** Sign a note text with the database's key (for tampered vectors). */
  signNote(text: string): string;
}

const sha = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();

/** RFC 6962's Merkle tree hash (tlog.TreeHash) of leaves[lo:hi], each node hashed once (memo by range). */
function merkle(leaves: readonly Buffer[]): (lo: number, hi: number) => Buffer {
  const memo = new Map<string, Buffer>();
  const mth = (lo: number, hi: number): Buffer => {
    if (hi - lo === 1) return leaves[lo]!;
    const key = `${lo}:${hi}`;
    let hash = memo.get(key);
    if (!hash) {
      let split = 1;
      while (split * 2 < hi - lo) split *= 2;
      hash = sha(Buffer.from([1]), mth(lo, lo + split), mth(lo + split, hi));
      memo.set(key, hash);
    }
    return hash;
  };
  return mth;
}

/** tlog.Tile.Path. */
function tilePath(level: number, index: number, width: number): string {
  let path = String(index % 1000).padStart(3, '0');
  for (let n = Math.floor(index / 1000); n > 0; n = Math.floor(n / 1000)) path = `x${String(n % 1000).padStart(3, '0')}/${path}`;
  return `tile/8/${level}/${path}${width < 256 ? `.p/${width}` : ''}`;
}

/** The database over `records` (each the two go.sum lines of one module version), signed with a fresh key. */
export function fakeSumdbTree(name: string, records: readonly string[], key?: { privateKey: KeyObject; publicKey: KeyObject }): FakeSumdbTree {
  const { publicKey, privateKey } = key ?? generateKeyPairSync('ed25519');
  const keyBytes = Buffer.concat([Buffer.from([1]), Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url')]);
  const keyHash = sha(Buffer.from(`${name}\n`), keyBytes).subarray(0, 4);
  const verifierKey = `${name}+${keyHash.toString('hex')}+${keyBytes.toString('base64')}`;
  const signNote = (text: string) => `${text}\n\u2014 ${name} ${Buffer.concat([keyHash, sign(null, Buffer.from(text), privateKey)]).toString('base64')}\n`;
  const leaves = records.map((text) => sha(Buffer.from([0]), Buffer.from(text)));
  const mth = merkle(leaves);
  const signedTree = signNote(`go.sum database tree\n${records.length}\n${mth(0, records.length).toString('base64')}\n`);
  const escape = (s: string) => s.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);
  const lookups = new Map(records.map((text, id) => {
    const [module, version] = text.split(' ');
    return [`${escape(module!)}@${escape(version!)}`, `${id}\n${text}\n${signedTree}`];
  }));
  // Level L holds the hashes of the complete subtrees of 256^L records; tiles of 256 of them.
  const tiles = new Map<string, Buffer>();
  for (let level = 0, span = 1; span <= records.length; level++, span *= 256) {
    const hashes: Buffer[] = [];
    for (let k = 0; (k + 1) * span <= records.length; k++) hashes.push(mth(k * span, (k + 1) * span));
    for (let index = 0; index * 256 < hashes.length; index++) {
      const tile = hashes.slice(index * 256, (index + 1) * 256);
      tiles.set(tilePath(level, index, tile.length), Buffer.concat(tile));
    }
  }
  return { name, verifierKey, signedTree, lookups, tiles, signNote };
}

/** A checksum database the test serves over HTTP. */
export interface FakeSumdb {
  /** Base URL to configure a proxy with (the database answers under `sumdb/<name>/`). */
  readonly url: string;
  /** The GOSUMDB value: `<name>+<key hash>+<public key>`. */
  readonly verifierKey: string;
  /** Paths asked, in order. */
  readonly requests: string[];
  stop(): Promise<void>;
}

/** Serve {@link fakeSumdbTree} over `records` under `sumdb/<name>/` (and at the root, as a database's own host). */
export async function startFakeSumdb(name: string, records: readonly string[]): Promise<FakeSumdb> {
  const tree = fakeSumdbTree(name, records);
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(path);
    const rest = path.startsWith(`/sumdb/${name}/`) ? path.slice(`/sumdb/${name}/`.length) : path.slice(1);
    const answer = (status: number, body: string | Buffer) => res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
    if (rest === 'supported') return answer(200, '');
    if (rest === 'latest') return answer(200, tree.signedTree);
    const lookup = rest.startsWith('lookup/') ? tree.lookups.get(rest.slice('lookup/'.length)) : undefined;
    if (lookup) return answer(200, lookup);
    const tile = tree.tiles.get(rest);
    if (tile) return answer(200, tile);
    answer(404, 'not found\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    verifierKey: tree.verifierKey,
    requests,
    stop: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
