import { Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { BadRequestError } from '@registry-core/api';
import tar from 'tar-stream';
import { tomlStrings } from './toml-strings.js';

/** Bounds on what a .crate may expand to (crates.io's own limit is 512 MiB). */
export const MAX_UNPACKED_BYTES = 512 * 1024 * 1024;
const MAX_ENTRIES = 100_000;
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

function refuse(why: string): never {
  throw new BadRequestError(`invalid .crate: ${why}`);
}

/**
 * A pass-through for the .crate's bytes on their way to storage that reads the archive as
 * they go: every entry under `<name>-<version>/`, no `..`, absolute path, link or device, the
 * whole within {@link MAX_UNPACKED_BYTES}, and a `Cargo.toml` whose `[package]` names the
 * crate and version the publish JSON names. It ends only once the archive checked out, so
 * storage never commits a crate that did not.
 */
export class CrateChecker extends Transform {
  private readonly gunzip = createGunzip();
  private readonly extract = tar.extract();
  private readonly verdict: Promise<void>;

  constructor(
    private readonly expected: { readonly name: string; readonly vers: string },
    /** Runs once every byte passed: the body must end here. */
    private readonly atEnd: () => Promise<void>,
  ) {
    super();
    const root = `${expected.name}-${expected.vers}/`;
    let manifest: string | undefined;
    let unpacked = 0;
    let entries = 0;
    this.verdict = new Promise<void>((resolve, reject) => {
      const fail = (error: unknown) => {
        reject(error);
        this.gunzip.destroy();
        this.extract.destroy();
      };
      this.gunzip.on('error', () => fail(new BadRequestError('invalid .crate: not a gzip stream')));
      this.extract.on('error', (error) => fail(error instanceof BadRequestError ? error : new BadRequestError('invalid .crate: not a tar archive')));
      this.extract.on('entry', (header, stream, next) => {
        try {
          if (++entries > MAX_ENTRIES) refuse(`more than ${MAX_ENTRIES} entries`);
          const path = header.name;
          if (path.includes('\0') || path.includes('\\')) refuse(`the entry ${JSON.stringify(path.slice(0, 200))} has a NUL or a backslash`);
          if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) refuse(`the entry ${JSON.stringify(path.slice(0, 200))} has an absolute path`);
          if (path.split('/').some((s) => s === '..')) refuse(`the entry ${JSON.stringify(path.slice(0, 200))} has a ".." segment`);
          if (!path.startsWith(root) && path !== root.slice(0, -1)) refuse(`the entry ${JSON.stringify(path.slice(0, 200))} is outside ${root}`);
          if (header.type !== 'file' && header.type !== 'directory') refuse(`the entry ${JSON.stringify(path.slice(0, 200))} is a ${header.type ?? 'special file'}; only files and folders are allowed`);
          unpacked += header.size ?? 0;
          if (unpacked > MAX_UNPACKED_BYTES) refuse(`it unpacks to more than ${MAX_UNPACKED_BYTES} bytes`);
        } catch (error) {
          stream.resume();
          fail(error);
          return;
        }
        if (header.name === `${root}Cargo.toml`) {
          if ((header.size ?? 0) > MAX_MANIFEST_BYTES) {
            stream.resume();
            fail(new BadRequestError(`invalid .crate: its Cargo.toml is over ${MAX_MANIFEST_BYTES} bytes`));
            return;
          }
          const parts: Buffer[] = [];
          stream.on('data', (chunk: unknown) => parts.push(chunk as Buffer));
          stream.on('end', () => {
            manifest = Buffer.concat(parts).toString('utf8');
            next();
          });
        } else {
          stream.on('end', () => next());
          stream.resume();
        }
      });
      this.extract.on('finish', () => {
        try {
          if (manifest === undefined) refuse(`it has no ${root}Cargo.toml`);
          const pkg = packageTable(manifest);
          if (pkg.name !== expected.name) refuse(`its Cargo.toml names the crate ${JSON.stringify(pkg.name ?? '')}, not ${JSON.stringify(expected.name)}`);
          if (pkg.version !== expected.vers) refuse(`its Cargo.toml has version ${JSON.stringify(pkg.version ?? '')}, not ${JSON.stringify(expected.vers)}`);
          resolve();
        } catch (error) {
          reject(error);
        }
      });
    });
    // Nobody may be waiting yet when it fails early: _transform and _flush report it.
    this.verdict.catch((error: unknown) => {
      this.failure = error as Error;
      this.waiting?.(this.failure);
    });
    this.gunzip.pipe(this.extract);
  }

  private failure: Error | undefined;
  /** The write waiting for the gunzip to drain, told at once if the archive fails meanwhile. */
  private waiting: ((error: Error | null) => void) | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.failure) return callback(this.failure);
    if (this.gunzip.write(chunk)) return callback(null, chunk);
    // One waiter at a time, dropped once called: nothing keeps the chunks that waited.
    const onDrain = () => done(this.failure ?? null);
    const done = (error: Error | null) => {
      this.waiting = undefined;
      this.gunzip.off('drain', onDrain);
      callback(error, error ? undefined : chunk);
    };
    this.waiting = done;
    this.gunzip.once('drain', onDrain);
  }

  override _flush(callback: TransformCallback): void {
    if (this.failure) return callback(this.failure);
    this.gunzip.end();
    Promise.all([this.verdict, this.atEnd()]).then(
      () => callback(),
      (error: unknown) => callback(error as Error),
    );
  }
}

/**
 * `name` and `version` of a Cargo.toml's `[package]` table. Cargo normalizes the manifest it
 * packs (one `key = "string"` per line), so the line reader of {@link tomlStrings} is enough;
 * a value it cannot read (or finds twice) is taken as absent, which refuses the crate.
 */
export function packageTable(manifest: string): { name?: string; version?: string } {
  const strings = tomlStrings(manifest);
  const name = strings.get('package.name');
  const version = strings.get('package.version');
  return { ...(name !== undefined ? { name } : {}), ...(version !== undefined ? { version } : {}) };
}
