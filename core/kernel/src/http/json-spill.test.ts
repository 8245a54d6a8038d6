import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRegistryError, isSpilledString } from '@registry-core/api';
import { MAX_JSON_DEPTH, parseJsonSpilling } from './json-spill.js';
import { readRequestBody } from './body.js';
import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';

async function* chunks(text: string, size: number) {
  const buffer = Buffer.from(text);
  for (let i = 0; i < buffer.length; i += size) yield buffer.subarray(i, i + size);
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('parseJsonSpilling', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'rc-spill-'));

  it.each([1, 7, 64 * 1024])('keeps small values and spills long strings (chunks of %d bytes)', async (size) => {
    const payload = Buffer.from(Buffer.alloc(300_000, 0).map((_, i) => (i * 31) % 251));
    const body = JSON.stringify({
      name: 'a "quoted" name \\ with escapes \u00e9',
      _attachments: { 'a-1.0.0.tgz': { data: payload.toString('base64'), length: payload.length } },
      list: [1, true, null, 'x'],
    });
    const { value, cleanup } = await parseJsonSpilling(chunks(body, size), { limit: 10_000_000, threshold: 1024, tmpDir: tmp });
    const v = value as { name: string; list: unknown[]; _attachments: Record<string, { data: unknown; length: number }> };
    expect(v.name).toBe('a "quoted" name \\ with escapes \u00e9');
    expect(v.list).toEqual([1, true, null, 'x']);
    const data = v._attachments['a-1.0.0.tgz']!.data;
    expect(isSpilledString(data)).toBe(true);
    if (isSpilledString(data)) {
      const decoded = await collect(data.open('base64'));
      expect(createHash('sha256').update(decoded).digest('hex')).toBe(createHash('sha256').update(payload).digest('hex'));
    }
    await cleanup();
  });

  it('unescapes spilled strings', async () => {
    const long = 'line\n"quote"\\/'.repeat(200) + '\u00e9\u2603';
    const { value, cleanup } = await parseJsonSpilling(chunks(JSON.stringify({ readme: long }), 13), { limit: 1e7, threshold: 100, tmpDir: tmp });
    const readme = (value as { readme: unknown }).readme;
    expect(isSpilledString(readme) && (await readme.text(1e6))).toBe(long);
    await cleanup();
  });

  it('cannot be fooled by a client-sent placeholder', async () => {
    const { value } = await parseJsonSpilling(chunks(JSON.stringify({ a: '\u0000spilled:0000:0' }), 5), { limit: 1e6, threshold: 10_000, tmpDir: tmp });
    expect((value as { a: unknown }).a).toBe('\u0000spilled:0000:0');
  });

  it('refuses a body over the limit and invalid JSON, leaving no temporary file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rc-spill-limit-'));
    const big = JSON.stringify({ data: 'A'.repeat(50_000) });
    const tooBig = await parseJsonSpilling(chunks(big, 1000), { limit: 20_000, threshold: 100, tmpDir: dir }).catch((e: unknown) => e);
    expect(isRegistryError(tooBig) && tooBig.status).toBe(413);
    const broken = await parseJsonSpilling(chunks('{"data": "AAAA', 2), { limit: 1e6, threshold: 1, tmpDir: dir }).catch((e: unknown) => e);
    expect(isRegistryError(broken) && broken.status).toBe(400);
    const bad = await parseJsonSpilling(chunks('{"a": [1,}', 2), { limit: 1e6, threshold: 1, tmpDir: dir }).catch((e: unknown) => e);
    expect(isRegistryError(bad) && bad.status).toBe(400);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a body nested 100k levels deep with 400, spilling or not, and accepts the deepest allowed', async () => {
    const nested = (depth: number) => `{"a":${'['.repeat(depth)}"s"${']'.repeat(depth)}}`;
    const spilled = await parseJsonSpilling(chunks(nested(100_000), 4096), { limit: 1e7, threshold: 1024, tmpDir: tmp }).catch((e: unknown) => e);
    expect(isRegistryError(spilled) && spilled.status, String(spilled)).toBe(400);
    const asRequest = (text: string) => Object.assign(Readable.from([Buffer.from(text)]), { headers: {} }) as unknown as IncomingMessage;
    const plain = await readRequestBody(asRequest(nested(100_000)), { kind: 'json' }, 1e7, tmp).catch((e: unknown) => e);
    expect(isRegistryError(plain) && plain.status, String(plain)).toBe(400);
    // Brackets inside strings do not count; the deepest allowed document parses.
    const { value } = await parseJsonSpilling(chunks(`{"s":"${'['.repeat(1000)}","d":${nested(MAX_JSON_DEPTH - 2)}}`, 100), { limit: 1e7, threshold: 1e6, tmpDir: tmp });
    expect((value as { s: string }).s).toHaveLength(1000);
  });
});
