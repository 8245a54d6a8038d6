import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceAccountToken, startGcsJsonApiServer, type GcsServiceAccount, type TestGcs } from './gcs-json-api-server.js';

// The test server refuses what GCS refuses, so a driver that passes against it does not
// lean on leniency. These requests are written by hand from the JSON API reference.
let gcs: TestGcs;
let account: GcsServiceAccount;

beforeAll(async () => {
  gcs = await startGcsJsonApiServer();
  account = await gcs.addServiceAccount('strict');
  await gcs.createBucket('strict');
}, 60_000);
afterAll(async () => {
  await gcs?.stop();
});

const auth = (claims?: Record<string, unknown>) => ({ authorization: `Bearer ${serviceAccountToken(account.keyFile, claims)}` });

function multipart(metadata: unknown, media: Buffer): { body: Buffer; type: string } {
  const boundary = 'b0undary';
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(metadata)}\r\n--${boundary}\r\nContent-Type: application/octet-stream\r\n\r\n`),
    media,
    Buffer.from(`\r\n--${boundary}--`),
  ]);
  return { body, type: `multipart/related; boundary=${boundary}` };
}

describe('GCS JSON API test server', () => {
  it('refuses anonymous, expired, forged and unknown-account tokens', async () => {
    const list = `${gcs.endpoint}/storage/v1/b/strict/o`;
    expect((await fetch(list)).status).toBe(401);
    expect((await fetch(list, { headers: auth({ exp: Math.floor(Date.now() / 1000) - 10 }) })).status).toBe(401);
    const forged = serviceAccountToken(account.keyFile).replace(/\.[^.]+$/, '.AAAA');
    expect((await fetch(list, { headers: { authorization: `Bearer ${forged}` } })).status).toBe(401);
    expect((await fetch(list, { headers: auth({ iss: 'nobody@x.iam.gserviceaccount.com', sub: 'nobody@x.iam.gserviceaccount.com' }) })).status).toBe(401);
    expect((await fetch(list, { headers: auth() })).status).toBe(200);
  });

  it('checks the crc32c and md5 a multipart upload states, and ifGenerationMatch=0', async () => {
    const media = Buffer.from('hello');
    const url = (name: string, extra = '') => `${gcs.endpoint}/upload/storage/v1/b/strict/o?uploadType=multipart&name=${name}${extra}`;
    const md5 = createHash('md5').update(media).digest('base64');
    const wrongMd5 = multipart({ md5Hash: createHash('md5').update('other').digest('base64') }, media);
    expect((await fetch(url('m'), { method: 'POST', headers: { ...auth(), 'content-type': wrongMd5.type }, body: wrongMd5.body })).status).toBe(400);
    const wrongCrc = multipart({ crc32c: 'AAAAAA==' }, media);
    expect((await fetch(url('m'), { method: 'POST', headers: { ...auth(), 'content-type': wrongCrc.type }, body: wrongCrc.body })).status).toBe(400);
    const right = multipart({ md5Hash: md5, crc32c: 'mnG7TA==' }, media);
    const created = await fetch(url('m', '&ifGenerationMatch=0'), { method: 'POST', headers: { ...auth(), 'content-type': right.type }, body: right.body });
    expect(created.status).toBe(200);
    expect(await created.json()).toMatchObject({ name: 'm', size: '5', md5Hash: md5, crc32c: 'mnG7TA==' });
    expect((await fetch(url('m', '&ifGenerationMatch=0'), { method: 'POST', headers: { ...auth(), 'content-type': right.type }, body: right.body })).status).toBe(412);
  });

  it('takes resumable chunks only in multiples of 256 KiB, from where it stands, and creates the object at the last one', async () => {
    const start = await fetch(`${gcs.endpoint}/upload/storage/v1/b/strict/o?uploadType=resumable&name=r`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: '{}' });
    expect(start.status).toBe(200);
    const session = start.headers.get('location')!;
    const put = (range: string, body: Buffer) => fetch(session, { method: 'PUT', headers: { 'content-range': range }, body });
    expect((await put('bytes 0-999/*', Buffer.alloc(1000))).status).toBe(400);
    const chunk = Buffer.alloc(256 * 1024, 1);
    const first = await put(`bytes 0-${chunk.length - 1}/*`, chunk);
    expect(first.status).toBe(308);
    expect(first.headers.get('range')).toBe(`bytes=0-${chunk.length - 1}`);
    // Not visible before the last chunk.
    expect((await fetch(`${gcs.endpoint}/storage/v1/b/strict/o/r`, { headers: auth() })).status).toBe(404);
    expect((await put(`bytes 0-${chunk.length - 1}/*`, chunk)).status).toBe(400);
    const last = await put(`bytes ${chunk.length}-${chunk.length + 9}/${chunk.length + 10}`, Buffer.alloc(10, 2));
    expect(last.status).toBe(200);
    expect(((await last.json()) as { size: string }).size).toBe(String(chunk.length + 10));
  });

  it('ties page tokens to their listing and rewrite tokens to their objects', async () => {
    const headers = auth();
    for (const name of ['p/1', 'p/2', 'p/3']) {
      const m = multipart({}, Buffer.from(name));
      await fetch(`${gcs.endpoint}/upload/storage/v1/b/strict/o?uploadType=multipart&name=${encodeURIComponent(name)}`, { method: 'POST', headers: { ...headers, 'content-type': m.type }, body: m.body });
    }
    const page = (await (await fetch(`${gcs.endpoint}/storage/v1/b/strict/o?prefix=p/&maxResults=1`, { headers })).json()) as { items: { name: string }[]; nextPageToken: string };
    expect(page.items.map((i: { name: string }) => i.name)).toEqual(['p/1']);
    expect((await fetch(`${gcs.endpoint}/storage/v1/b/strict/o?prefix=q/&pageToken=${page.nextPageToken}`, { headers })).status).toBe(400);
    expect((await fetch(`${gcs.endpoint}/storage/v1/b/strict/o/p%2F1/rewriteTo/b/strict/o/p%2F9?rewriteToken=made-up`, { method: 'POST', headers })).status).toBe(400);
    expect((await fetch(`${gcs.endpoint}/storage/v1/b/strict/o/p%2F1/rewriteTo/b/strict/o/p%2F9?maxBytesRewrittenPerCall=1000`, { method: 'POST', headers })).status).toBe(400);
  });
});
