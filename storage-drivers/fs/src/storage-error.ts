/**
 * Codes this driver puts on the errors it throws on purpose. The names follow Node's own
 * `errno`-style codes so that callers can treat them like filesystem errors.
 */
export type FsStorageErrorCode =
  /** A key or prefix is not a safe relative `/`-separated path. */
  | 'EINVALIDKEY'
  /** The stored bytes do not match the expected size or sha256. */
  | 'EINTEGRITY'
  /** `createOnly` was set and the key already exists. */
  | 'EEXIST'
  /** The source of a move does not exist. */
  | 'ENOENT'
  /** An argument other than a key is out of range (limit, byte range, digest). */
  | 'EINVAL';

/** An error with a stable `code`, thrown by {@link FsStorageDriver}. */
export class FsStorageError extends Error {
  readonly code: FsStorageErrorCode;

  constructor(code: FsStorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FsStorageError';
    this.code = code;
  }
}

/** The `code` of a Node.js system error, or `undefined`. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
