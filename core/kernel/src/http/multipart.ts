import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { BadRequestError, isRegistryError, PayloadTooLargeError, type MultipartBody, type UploadedFile } from '@registry-core/api';
import { LimitStream } from './body.js';

export interface MultipartLimits {
  /** Most bytes of the whole body. */
  readonly limit: number;
  readonly maxFields: number;
  readonly maxFieldBytes: number;
  /** Most file parts. */
  readonly maxFiles?: number;
  readonly tmpDir: string;
}

/**
 * Our own refusals as they are; the disk's errors (ENOSPC...) as server errors; the rest
 * is the parser's complaint about what the client sent.
 */
function explain(error: Error): Error {
  if (isRegistryError(error)) return error;
  if (typeof (error as NodeJS.ErrnoException).code === 'string' && (error as NodeJS.ErrnoException).syscall !== undefined) return error;
  return new BadRequestError(`malformed multipart body: ${error.message}`);
}

/**
 * Puts the CR back before a body's closing delimiter when a client wrote a bare LF there
 * (NuGet 2.x's `nuget push` ends its body with `\n--<boundary>--`), which the parser would
 * refuse as a truncated form. Only the body's last bytes are held back and looked at, so
 * the file bytes pass unchanged and a body cut short still ends without a closing delimiter.
 */
class ClosingDelimiterFix extends Transform {
  private tail = Buffer.alloc(0);
  private readonly keep: number;
  private readonly closing: RegExp;

  constructor(private readonly boundary: string) {
    super();
    this.keep = boundary.length + 8;
    const escaped = boundary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    this.closing = new RegExp(`([^\\r])\\n--${escaped}--(\\r?\\n)?$`);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null, data?: Buffer) => void): void {
    const all = Buffer.concat([this.tail, chunk]);
    const cut = Math.max(0, all.length - this.keep);
    this.tail = all.subarray(cut);
    callback(null, all.subarray(0, cut));
  }

  override _flush(callback: (error?: Error | null, data?: Buffer) => void): void {
    const text = this.tail.toString('latin1');
    const fixed = text.replace(this.closing, (_all, before: string, end: string | undefined) => `${before}\r\n--${this.boundary}--${end ?? ''}`);
    callback(null, fixed === text ? this.tail : Buffer.from(fixed, 'latin1'));
  }
}

/**
 * Parse a `multipart/form-data` request: text fields into memory (bounded), file parts
 * streamed to temporary files while hashed. Resolves the body and a cleanup removing the
 * files; on any failure the files are removed before the error is thrown.
 */
export async function parseMultipart(req: IncomingMessage, limits: MultipartLimits): Promise<{ value: MultipartBody; cleanup: () => Promise<void> }> {
  const type = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data\s*;/i.test(type)) throw new BadRequestError(`expected a multipart/form-data body, got ${type === '' ? 'no Content-Type' : JSON.stringify(type.slice(0, 100))}`);
  const written: string[] = [];
  const cleanup = async () => {
    await Promise.all(written.map((file) => rm(file, { force: true })));
  };
  const fields: Record<string, string[]> = {};
  const files: Record<string, UploadedFile[]> = {};
  const nonce = randomBytes(8).toString('hex');
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: req.headers,
      defParamCharset: 'utf8',
      // The client's file name as sent, directories included: formats validate it (and
      // refuse `../x`) rather than get a silently shortened name.
      preservePath: true,
      limits: { fields: limits.maxFields, fieldSize: limits.maxFieldBytes, files: limits.maxFiles ?? 16, parts: limits.maxFields + (limits.maxFiles ?? 16), fieldNameSize: 200 },
    });
  } catch (error) {
    throw new BadRequestError(`malformed multipart body: ${(error as Error).message}`);
  }
  await mkdir(limits.tmpDir, { recursive: true });
  const pending: Promise<void>[] = [];
  let failure: Error | undefined;
  const fail = (error: Error) => {
    failure ??= error;
  };
  parser.on('field', (name, value, info) => {
    if (info.valueTruncated) return fail(new PayloadTooLargeError(`form field "${name.slice(0, 100)}" is over ${limits.maxFieldBytes} bytes`));
    if (info.nameTruncated) return fail(new BadRequestError('a form field name is too long'));
    (fields[name] ??= []).push(value);
  });
  parser.on('fieldsLimit', () => fail(new PayloadTooLargeError(`more than ${limits.maxFields} form fields`)));
  parser.on('filesLimit', () => fail(new PayloadTooLargeError(`more than ${limits.maxFiles ?? 16} files`)));
  parser.on('partsLimit', () => fail(new PayloadTooLargeError('too many form parts')));
  parser.on('file', (field, stream: Readable, info) => {
    if (failure) {
      stream.resume();
      return;
    }
    const file = path.join(limits.tmpDir, `upload-${nonce}-${written.length}`);
    written.push(file);
    const sha256 = createHash('sha256');
    const md5 = createHash('md5');
    let size = 0;
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        sha256.update(chunk);
        md5.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    });
    pending.push(
      pipeline(stream, hashing, createWriteStream(file)).then(
        () => {
          const uploaded: UploadedFile = {
            field,
            filename: info.filename ?? '',
            contentType: info.mimeType || 'application/octet-stream',
            size,
            sha256: sha256.digest('hex'),
            md5: md5.digest('hex'),
            path: file,
            open: () => createReadStream(file),
          };
          (files[field] ??= []).push(uploaded);
        },
        (error: Error) => fail(error),
      ),
    );
  });
  const limited = new LimitStream(limits.limit);
  try {
    const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(type);
    const fix = new ClosingDelimiterFix(boundary?.[1] ?? boundary?.[2] ?? '');
    await pipeline(req, limited, fix, parser);
    await Promise.all(pending);
  } catch (error) {
    await Promise.allSettled(pending);
    fail(error as Error);
  }
  if (failure) {
    await cleanup();
    throw explain(failure);
  }
  return { value: { fields, files }, cleanup };
}
