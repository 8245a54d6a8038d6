import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { finished } from 'node:stream/promises';
import { once } from 'node:events';
import { BadRequestError, PayloadTooLargeError, SPILLED_STRING_BRAND, type SpilledString } from '@registry-core/api';
import { BACKSLASH, CLOSE_ARRAY, CLOSE_OBJECT, OPEN_ARRAY, OPEN_OBJECT, QUOTE } from '../engine/json-bytes.js';

/**
 * Deepest nesting of arrays and objects a JSON request body may have. Real documents
 * nest a dozen levels; walking a deeper one recursively (here, or in a format's code)
 * would overflow the stack, a 500 a client could cause at will.
 */
export const MAX_JSON_DEPTH = 256;

function tooDeep(): BadRequestError {
  return new BadRequestError(`request body is nested more than ${MAX_JSON_DEPTH} levels deep`);
}

/** Throw 400 when the JSON text in `bytes` nests deeper than {@link MAX_JSON_DEPTH} (strings skipped). */
export function assertJsonDepth(bytes: Uint8Array): void {
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (inString) {
      if (escaped) escaped = false;
      else if (byte === BACKSLASH) escaped = true;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) inString = true;
    else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
      if (++depth > MAX_JSON_DEPTH) throw tooDeep();
    } else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) depth--;
  }
}

/**
 * Parses a JSON request body without holding long strings in memory: the bytes outside
 * long strings are kept (they are small: a manifest), each string longer than `threshold`
 * is unescaped into a temporary file as it streams in and replaced by a placeholder,
 * then the small remainder is parsed and placeholders become {@link SpilledString}s.
 * A 100 MB npm publish thus costs a few kilobytes of memory, not 270 MB.
 */
export async function parseJsonSpilling(
  source: AsyncIterable<Buffer>,
  options: { limit: number; threshold: number; tmpDir: string },
): Promise<{ value: unknown; cleanup: () => Promise<void> }> {
  const nonce = randomBytes(8).toString('hex');
  const files: string[] = [];
  const spilled: SpilledFile[] = [];
  const cleanup = async () => {
    await Promise.all(files.map((f) => rm(f, { force: true })));
  };
  const outer: Buffer[] = [];
  let outerSize = 0;
  let total = 0;
  let inString = false;
  let escaped = false;
  let depth = 0;
  let nestedTooDeep = false;
  let current: Buffer[] = []; // string bytes (escaped form) not yet spilled
  let currentSize = 0;
  let writer: { stream: WriteStream; unescape: Unescaper; file: SpilledFile } | undefined;

  const pushOuter = (b: Buffer) => {
    outer.push(b);
    outerSize += b.length;
    if (outerSize > options.threshold * 4 + 16 * 1024 * 1024) throw new PayloadTooLargeError('JSON body has too much non-spilled content');
  };
  const startSpill = async () => {
    await mkdir(options.tmpDir, { recursive: true });
    const file = path.join(options.tmpDir, `spill-${nonce}-${spilled.length}`);
    files.push(file);
    const stream = createWriteStream(file);
    // Write errors surface through finished(); this listener keeps a destroyed stream quiet.
    stream.on('error', () => undefined);
    const record: SpilledFile = { file, size: 0 };
    spilled.push(record);
    writer = { stream, unescape: new Unescaper(), file: record };
    for (const b of current) await write(b);
    current = [];
  };
  const write = async (escapedBytes: Buffer) => {
    const plain = writer!.unescape.push(escapedBytes);
    writer!.file.size += plain.length;
    const stream = writer!.stream;
    // events.once removes its listeners whichever event comes first (no leak per chunk).
    if (!stream.write(plain)) await once(stream, 'drain');
  };

  try {
    for await (const chunk of source) {
      total += chunk.length;
      if (total > options.limit) throw new PayloadTooLargeError(`request body is over the limit of ${options.limit} bytes`);
      let start = 0;
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i]!;
        if (!inString) {
          // Too deep: noted, and the rest of the body still read (within the limit), so the
          // client is answered 400 rather than cut off mid-send.
          if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
            if (++depth > MAX_JSON_DEPTH) nestedTooDeep = true;
          } else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) {
            depth--;
          } else if (byte === QUOTE) {
            pushOuter(chunk.subarray(start, i + 1));
            start = i + 1;
            inString = true;
            escaped = false;
            current = [];
            currentSize = 0;
          }
          continue;
        }
        if (escaped) {
          escaped = false;
          continue;
        }
        if (byte === BACKSLASH) {
          escaped = true;
          continue;
        }
        if (byte !== QUOTE) continue;
        // End of a string: flush its bytes.
        const tail = chunk.subarray(start, i);
        if (writer) {
          await write(tail);
          writer.unescape.end();
          writer.stream.end();
          await finished(writer.stream);
          pushOuter(Buffer.from(`${placeholder(nonce, spilled.length - 1)}"`));
          writer = undefined;
        } else {
          current.push(Buffer.from(tail));
          pushOuter(Buffer.concat(current));
          pushOuter(Buffer.from('"'));
        }
        current = [];
        currentSize = 0;
        inString = false;
        start = i + 1;
      }
      const rest = chunk.subarray(start);
      if (!inString) {
        pushOuter(rest);
      } else if (writer) {
        await write(rest);
      } else {
        current.push(Buffer.from(rest));
        currentSize += rest.length;
        if (currentSize > options.threshold) await startSpill();
      }
    }
    if (nestedTooDeep) throw tooDeep();
    if (inString) throw new BadRequestError('request body is not valid JSON (unterminated string)');
    if (total === 0) return { value: undefined, cleanup };
    let value: unknown;
    try {
      value = JSON.parse(Buffer.concat(outer, outerSize).toString('utf8'));
    } catch {
      throw new BadRequestError('request body is not valid JSON');
    }
    return { value: revive(value, nonce, spilled), cleanup };
  } catch (error) {
    // A write stream opens its file asynchronously: wait until it is closed, or the file it
    // is still opening would be created after cleanup removed nothing.
    const open = writer?.stream;
    if (open) {
      open.destroy();
      if (!open.closed) await once(open, 'close').catch(() => undefined);
    }
    await cleanup();
    throw error;
  }
}

interface SpilledFile {
  readonly file: string;
  size: number;
}

/** The placeholder as JSON text: `\u0000` escaped, so it parses to a NUL-prefixed string no client can forge without the nonce. */
function placeholder(nonce: string, index: number): string {
  return `\\u0000spilled:${nonce}:${index}`;
}

function revive(value: unknown, nonce: string, files: SpilledFile[]): unknown {
  if (typeof value === 'string') {
    const prefix = `\u0000spilled:${nonce}:`;
    if (value.startsWith(prefix)) {
      const record = files[Number(value.slice(prefix.length))];
      if (record) return spilledString(record);
    }
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => revive(v, nonce, files));
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) (value as Record<string, unknown>)[k] = revive(v, nonce, files);
  }
  return value;
}

function spilledString(record: SpilledFile): SpilledString {
  return {
    [SPILLED_STRING_BRAND]: true,
    size: record.size,
    open(decode?: 'base64'): Readable {
      const raw = createReadStream(record.file);
      if (!decode) return raw;
      const decoder = new Base64Decoder();
      raw.on('error', (e) => decoder.destroy(e));
      return raw.pipe(decoder);
    },
    async text(maxBytes: number): Promise<string> {
      if (record.size > maxBytes) throw new PayloadTooLargeError(`a string of ${record.size} bytes is over ${maxBytes}`);
      const chunks: Buffer[] = [];
      for await (const c of createReadStream(record.file)) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  } as SpilledString;
}

/** Undoes JSON string escapes across chunk boundaries. */
class Unescaper {
  private pending = '';

  push(bytes: Buffer): Buffer {
    if (this.pending === '' && !bytes.includes(BACKSLASH)) return bytes;
    const text = this.pending + bytes.toString('latin1');
    let out = '';
    let i = 0;
    for (; i < text.length; i++) {
      const c = text[i]!;
      if (c !== '\\') {
        out += c;
        continue;
      }
      if (i + 1 >= text.length) break;
      const e = text[i + 1]!;
      if (e === 'u') {
        if (i + 5 >= text.length) break;
        const code = parseInt(text.slice(i + 2, i + 6), 16);
        if (Number.isNaN(code)) throw new BadRequestError('request body is not valid JSON (bad \\u escape)');
        out += Buffer.from(String.fromCharCode(code), 'utf8').toString('latin1');
        i += 5;
        continue;
      }
      const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
      const replacement = simple[e];
      if (replacement === undefined) throw new BadRequestError('request body is not valid JSON (bad escape)');
      out += replacement;
      i += 1;
    }
    this.pending = text.slice(i);
    return Buffer.from(out, 'latin1');
  }

  end(): void {
    if (this.pending !== '') throw new BadRequestError('request body is not valid JSON (dangling escape)');
  }
}

/** Streaming base64 decoder (whitespace tolerated, invalid characters refused). */
export class Base64Decoder extends Transform {
  private carry = '';

  override _transform(chunk: Buffer, _e: BufferEncoding, callback: TransformCallback): void {
    const text = this.carry + chunk.toString('latin1').replace(/\s+/g, '');
    if (/[^A-Za-z0-9+/=_-]/.test(text)) {
      callback(new BadRequestError('attachment is not valid base64'));
      return;
    }
    const usable = text.length - (text.length % 4);
    this.carry = text.slice(usable);
    callback(null, Buffer.from(text.slice(0, usable), 'base64'));
  }

  override _flush(callback: TransformCallback): void {
    callback(null, this.carry ? Buffer.from(this.carry, 'base64') : undefined);
  }
}
