import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseMultipart } from './multipart.js';

/** A request as a multipart client sends it (body built by undici's FormData encoder). */
async function formRequest(form: FormData, cut?: number): Promise<IncomingMessage> {
  const request = new Request('http://registry.test/', { method: 'POST', body: form });
  let bytes = Buffer.from(await request.arrayBuffer());
  if (cut !== undefined) bytes = bytes.subarray(0, cut);
  const stream = Readable.from([bytes.subarray(0, 100), bytes.subarray(100)]) as unknown as IncomingMessage;
  Object.assign(stream, { headers: { 'content-type': request.headers.get('content-type')!, 'content-length': String(bytes.length) } });
  return stream;
}

function upload(): FormData {
  const form = new FormData();
  form.append(':action', 'file_upload');
  form.append('name', 'demo');
  form.append('classifiers', 'A :: B');
  form.append('classifiers', 'C :: D');
  form.append('content', new Blob([Buffer.alloc(300_000, 7)]), 'demo-1.0-py3-none-any.whl');
  return form;
}

describe('multipart bodies', () => {
  const limits = (tmpDir: string, over: Partial<Parameters<typeof parseMultipart>[1]> = {}) => ({ limit: 1024 * 1024, maxFields: 50, maxFieldBytes: 1024, tmpDir, ...over });

  it('keeps repeated fields in order and streams files to disk with their digests, removed by cleanup', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rc-multipart-'));
    const { value, cleanup } = await parseMultipart(await formRequest(upload()), limits(dir));
    expect(value.fields).toEqual({ ':action': ['file_upload'], name: ['demo'], classifiers: ['A :: B', 'C :: D'] });
    const [file] = value.files['content']!;
    const bytes = Buffer.alloc(300_000, 7);
    expect(file).toMatchObject({ field: 'content', filename: 'demo-1.0-py3-none-any.whl', size: 300_000 });
    expect(file!.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(file!.md5).toBe(createHash('md5').update(bytes).digest('hex'));
    expect(readFileSync(file!.path).equals(bytes)).toBe(true);
    await cleanup();
    expect(existsSync(file!.path)).toBe(false);
  });

  it('takes a closing delimiter after a bare LF, as NuGet 2.x (nuget.exe push) sends it, leaving the file bytes as sent', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rc-multipart-'));
    const boundary = '---------------------------8df52b16a800f9c';
    const file = Buffer.concat([Buffer.from('PK\x03\x04 zip bytes ending in a line feed\r\n'), Buffer.alloc(70_000, 1)]);
    const bytes = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="package"; filename="package"\r\nContent-Type: application/octet-stream\r\n\r\n`), file, Buffer.from(`\n--${boundary}--`)]);
    const stream = Readable.from([bytes.subarray(0, 100), bytes.subarray(100, bytes.length - 20), bytes.subarray(bytes.length - 20)]) as unknown as IncomingMessage;
    Object.assign(stream, { headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(bytes.length) } });
    const { value, cleanup } = await parseMultipart(stream, limits(dir));
    const [uploaded] = value.files['package']!;
    expect(readFileSync(uploaded!.path).equals(file)).toBe(true);
    expect(uploaded!.sha256).toBe(createHash('sha256').update(file).digest('hex'));
    await cleanup();
  });

  it('hands file names over as the client sent them, directories included', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rc-multipart-'));
    const form = new FormData();
    form.append('content', new Blob(['x']), '../../etc/evil.whl');
    const { value, cleanup } = await parseMultipart(await formRequest(form), limits(dir));
    expect(value.files['content']![0]!.filename).toBe('../../etc/evil.whl');
    await cleanup();
  });

  it('refuses a body over the limit with 413 and leaves no file behind', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rc-multipart-'));
    await expect(parseMultipart(await formRequest(upload()), limits(dir, { limit: 200_000 }))).rejects.toMatchObject({ status: 413 });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses an oversized field and too many fields with 413', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rc-multipart-'));
    const big = upload();
    big.append('description', 'x'.repeat(2000));
    await expect(parseMultipart(await formRequest(big), limits(dir))).rejects.toMatchObject({ status: 413, message: expect.stringContaining('"description"') });
    const many = new FormData();
    for (let i = 0; i < 60; i++) many.append(`f${i}`, 'v');
    await expect(parseMultipart(await formRequest(many), limits(dir))).rejects.toMatchObject({ status: 413 });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('answers a truncated body and a non-multipart body with 400, leaving nothing', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rc-multipart-'));
    await expect(parseMultipart(await formRequest(upload(), 250_000), limits(dir))).rejects.toMatchObject({ status: 400 });
    expect(readdirSync(dir)).toEqual([]);
    const plain = Readable.from([Buffer.from('{}')]) as unknown as IncomingMessage;
    Object.assign(plain, { headers: { 'content-type': 'application/json' } });
    await expect(parseMultipart(plain, limits(dir))).rejects.toMatchObject({ status: 400, message: expect.stringContaining('multipart/form-data') });
  });
});
