/**
 * Small pure helpers for validating hostile input before it reaches storage.
 */

/**
 * True when `segment` is safe as one path segment of a storage key or asset path: no
 * separators, no `.`/`..`, no control characters, no percent signs or backslashes.
 */
export function isSafePathSegment(segment: string): boolean {
  if (segment.length === 0 || segment.length > 255) return false;
  if (segment === '.' || segment === '..') return false;
  // eslint-disable-next-line no-control-regex
  return !/[/\\%\u0000-\u001f\u007f]/.test(segment);
}

/** Split a `/`-separated relative path and check each segment with {@link isSafePathSegment}. */
export function isSafeRelativePath(path: string): boolean {
  if (path.startsWith('/')) return false;
  return path.split('/').every(isSafePathSegment);
}

/**
 * Why a path inside an uploaded archive (a zip or tar entry) could escape or confuse an
 * extraction: empty, a NUL, a backslash, absolute (`/x`, `C:x`) or with a `..` segment; the
 * reason as a phrase (`the entry "../x" has a ".." segment`), or `undefined` when it is safe.
 */
export function archiveEntryProblem(name: string): string | undefined {
  if (name === '' || name.includes('\0')) return 'an entry has an empty name or a NUL character';
  if (name.includes('\\')) return `the entry ${JSON.stringify(name)} has a backslash in its path`;
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return `the entry ${JSON.stringify(name)} has an absolute path`;
  if (name.split('/').some((segment) => segment === '..')) return `the entry ${JSON.stringify(name)} has a ".." segment`;
  return undefined;
}
