import { FsStorageError } from './storage-error.js';

/** Folder under the root that holds uploads in progress; never a key. */
export const TEMP_DIR_NAME = '.tmp';

/** Longest segment most filesystems accept (bytes of UTF-8). */
const MAX_SEGMENT_BYTES = 255;

/** True when `segment` can be one path segment of a key. */
export function isValidKeySegment(segment: string): boolean {
  return (
    segment.length > 0 &&
    segment !== '.' &&
    segment !== '..' &&
    !segment.includes('/') &&
    !segment.includes('\\') &&
    !segment.includes('\0') &&
    Buffer.byteLength(segment, 'utf8') <= MAX_SEGMENT_BYTES
  );
}

/**
 * Check a key before it is turned into a path: relative, `/`-separated, no empty, `.` or
 * `..` segment, no backslash or NUL, and not inside the temp folder. Keys come from the
 * host, but a key that slips through would become a path outside the root.
 */
export function assertValidKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new FsStorageError('EINVALIDKEY', 'storage key must be a non-empty string');
  }
  const segments = key.split('/');
  if (!segments.every(isValidKeySegment)) {
    throw new FsStorageError('EINVALIDKEY', `invalid storage key ${JSON.stringify(key)}`);
  }
  if (segments[0] === TEMP_DIR_NAME) {
    throw new FsStorageError('EINVALIDKEY', `storage key ${JSON.stringify(key)} is inside the reserved ${TEMP_DIR_NAME} folder`);
  }
}

/**
 * Check a list prefix and split it into the folder to start walking from (`''` or ending
 * in `/`) and the partial last segment, which only filters names and never becomes a path.
 */
export function splitListPrefix(prefix: unknown): { folder: string; partial: string } {
  if (typeof prefix !== 'string') {
    throw new FsStorageError('EINVALIDKEY', 'list prefix must be a string');
  }
  const slash = prefix.lastIndexOf('/');
  const folder = slash === -1 ? '' : prefix.slice(0, slash + 1);
  const partial = prefix.slice(slash + 1);
  if (partial.includes('\\') || partial.includes('\0')) {
    throw new FsStorageError('EINVALIDKEY', `invalid list prefix ${JSON.stringify(prefix)}`);
  }
  if (folder !== '') {
    const segments = folder.slice(0, -1).split('/');
    if (!segments.every(isValidKeySegment) || segments[0] === TEMP_DIR_NAME) {
      throw new FsStorageError('EINVALIDKEY', `invalid list prefix ${JSON.stringify(prefix)}`);
    }
  }
  return { folder, partial };
}

/**
 * Order of keys in listings: the bytes of their UTF-8 encoding, as object stores (S3,
 * GCS, Azure) list them. For keys within the Basic Multilingual Plane it equals `<` on
 * JavaScript strings.
 */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
