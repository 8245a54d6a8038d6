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
