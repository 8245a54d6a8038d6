import { createHash, generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, storedZip, type TestHost } from '@registry-core/testing';
import { fakeSumdbTree } from '../../../test/helpers/go-sumdb.js';
import { goModHash, hash1 } from './module-zip.js';
import { prefixPattern, sumCheckConfig, validateSumCheck } from './sumcheck.js';

// A proxy whose upstream (a fixture server) serves module zips and, under sumdb/<name>/,
// a checksum database of the test's own: what it serves is checked against the database.
const plugin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DB = 'sum.rc.test';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A module version's zip and go.mod, and its two go.sum lines (`lie`: a record with another zip hash). */
function moduleVersion(module: string, lie = false) {
  const goMod = Buffer.from(`module ${module}\n`);
  const files: [string, Buffer][] = [[`${module}@v1.0.0/go.mod`, goMod], [`${module}@v1.0.0/a.go`, Buffer.from('package a\n')]];
  const zipH1 = hash1(files.map(([name, bytes]) => ({ name, sha256: sha(lie ? Buffer.from('other') : bytes) })));
  return { zip: storedZip(files), goMod, record: `${module} v1.0.0 ${zipH1}\n${module} v1.0.0/go.mod ${goModHash(goMod)}\n` };
}

describe('go proxy: upstream files checked against the checksum database', () => {
  let upstream: Server;
  let host: TestHost;
  const asked: string[] = [];
  let sumdbDown = false;
  const good = moduleVersion('example.com/good');
  const bad = moduleVersion('example.com/bad', true);
  const unknown = moduleVersion('example.com/unknown');
  const priv = moduleVersion('corp.example.com/private', true);
  const later = moduleVersion('example.com/later');
  const key = generateKeyPairSync('ed25519');
  const db = fakeSumdbTree(DB, [good.record, bad.record, priv.record], key);
  // The same database (key) later showing a history in which the first record differs.
  const fork = moduleVersion('example.com/fork');
  const forked = fakeSumdbTree(DB, [bad.record, bad.record, priv.record, fork.record], key);
  let current = db;

  beforeAll(async () => {
    const byPath = new Map<string, Buffer>();
    for (const [module, v] of [['example.com/good', good], ['example.com/bad', bad], ['example.com/unknown', unknown], ['corp.example.com/private', priv], ['example.com/later', later], ['example.com/fork', fork]] as const) {
      byPath.set(`/${module}/@v/v1.0.0.zip`, v.zip);
      byPath.set(`/${module}/@v/v1.0.0.mod`, v.goMod);
    }
    upstream = createServer((req, res) => {
      const url = req.url ?? '/';
      asked.push(url);
      const rest = url.startsWith(`/sumdb/${DB}/`) ? url.slice(`/sumdb/${DB}/`.length) : undefined;
      if (rest !== undefined && sumdbDown) return res.writeHead(500).end('down');
      const body = rest === undefined ? byPath.get(url) : rest === 'supported' ? Buffer.alloc(0) : (current.lookups.get(rest.replace(/^lookup\//, '')) ?? current.tiles.get(rest));
      if (body) return res.writeHead(200).end(body);
      res.writeHead(404).end('not found');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/`;
    const proxy = { format: 'go', type: 'proxy', upstream: url, cache: { retries: 0 } };
    host = await createTestHost({
      plugins: [plugin],
      repositories: {
        checked: { ...proxy, sumdb: { key: db.verifierKey }, noSumCheck: ['corp.example.com'] },
        strict: { ...proxy, sumdb: { key: db.verifierKey }, sumdbUnreachable: 'refuse' },
        unchecked: { ...proxy, sumdb: false },
      },
    });
  });

  afterAll(async () => {
    await host?.stop();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  const get = (repo: string, module: string, ext = 'zip') => host.fetch(`/${repo}/${module}/@v/v1.0.0.${ext}`);

  it('serves a zip and a go.mod that match their record, from the cache after one lookup', async () => {
    const zip = await get('checked', 'example.com/good');
    expect(zip.status).toBe(200);
    expect(Buffer.from(await zip.arrayBuffer()).equals(good.zip)).toBe(true);
    expect((await get('checked', 'example.com/good', 'mod')).status).toBe(200);
    const again = await get('checked', 'example.com/good');
    expect(again.headers.get('x-cache')).toBe('HIT');
    expect(asked.filter((u) => u.includes('/lookup/example.com/good@'))).toHaveLength(1);
  });

  it('refuses a zip whose hash is not the record’s, keeping nothing; its go.mod matches and is served', async () => {
    const refused = await get('checked', 'example.com/bad');
    expect(refused.status).toBe(502);
    expect(await refused.text()).toMatch(/refused example.com\/bad@v1.0.0: its hash h1:\S+ is not the checksum database's h1:/);
    const before = asked.filter((u) => u === '/example.com/bad/@v/v1.0.0.zip').length;
    expect((await get('checked', 'example.com/bad')).status).toBe(502);
    expect(asked.filter((u) => u === '/example.com/bad/@v/v1.0.0.zip').length).toBe(before + 1);
    expect((await get('checked', 'example.com/bad', 'mod')).status).toBe(200);
    // A module the database does not know is refused too; sumdb: false and noSumCheck serve them.
    expect(await (await get('checked', 'example.com/unknown')).text()).toMatch(/not in the checksum database sum.rc.test/);
    expect((await get('unchecked', 'example.com/bad')).status).toBe(200);
    expect((await get('checked', 'corp.example.com/private')).status).toBe(200);
  });

  it('with the database down: serves unchecked by default (checked again later), refuses with sumdbUnreachable: refuse', async () => {
    sumdbDown = true;
    try {
      expect((await get('checked', 'example.com/later')).status).toBe(200);
      const strict = await get('strict', 'example.com/good');
      expect(strict.status).toBe(502);
      expect(await strict.text()).toMatch(/cannot be asked/);
    } finally {
      sumdbDown = false;
    }
    // Once the database answers, the file served unchecked is checked on its next request.
    expect(await (await get('checked', 'example.com/later')).text()).toMatch(/not in the checksum database/);
    expect((await get('strict', 'example.com/good')).status).toBe(200);
  });

  it('refuses what a tree inconsistent with the latest one it verified says (a fork of the database)', async () => {
    current = forked;
    const refused = await get('checked', 'example.com/fork');
    expect(refused.status).toBe(502);
    expect(await refused.text()).toMatch(/the tree of 4 records does not extend the one of 3/);
  });

  it('reads the keys: globs as GONOSUMDB, a key whose hash does not match is refused', () => {
    expect(prefixPattern('*.corp.example.com').test('git.corp.example.com/x/y')).toBe(true);
    expect(prefixPattern('corp.example.com/').test('corp.example.com')).toBe(true);
    expect(prefixPattern('corp.example.com').test('corp.example.community/x')).toBe(false);
    expect(prefixPattern('example.com/[ab]?/*').test('example.com/bx/y/z')).toBe(true);
    expect(prefixPattern('example.com/*').test('example.com')).toBe(false);
    const proxy = (config: Record<string, unknown>) => ({ type: 'proxy', config });
    expect(sumCheckConfig(proxy({}))).toMatchObject({ name: 'sum.golang.org', unreachable: 'serve' });
    expect(sumCheckConfig(proxy({ sumdb: false }))).toBeUndefined();
    expect(() => sumCheckConfig(proxy({ sumdb: { key: db.verifierKey.replace(/\+[0-9a-f]{8}\+/, '+00000000+') } }))).toThrow(/sumdb.key/);
    expect(() => sumCheckConfig(proxy({ sumdb: { name: 'sum.golang.org', key: db.verifierKey } }))).toThrow(/sumdb.name/);
    expect(() => sumCheckConfig(proxy({ sumdb: { url: 'ftp://x/' } }))).toThrow(/sumdb.url/);
    const info = (type: 'proxy' | 'hosted', config: Record<string, unknown>) => ({ name: 'r', format: 'go', type, url: 'http://h/r/', config, takesWrites: false, reachesUpstream: true });
    expect(() => validateSumCheck(info('proxy', { upstream: 'https://p.example/', sumdb: { url: 'https://db.example/' } }))).toThrow(/cache.allowedOrigins/);
    expect(() => validateSumCheck(info('proxy', { upstream: 'https://p.example/', sumdb: { url: 'https://db.example/' }, cache: { allowedOrigins: ['https://db.example'] } }))).not.toThrow();
    // That only proxies take the keys is the manifest schema's `repositoryTypes` (the kernel's check).
  });
});
