/**
 * Checks a storage driver's config block key by key, collecting every problem so that one
 * error names them all. Drivers call the readers, add their own problems, then `done()`.
 */
export interface DriverOptionsChecker {
  /** Problems found so far; a driver may push its own. */
  readonly problems: string[];
  /** A non-empty string, or `undefined` when absent. */
  string(key: string): string | undefined;
  /** A safe integer from `min` to `max` (`fallback` when absent); `what` says the range. */
  integer(key: string, fallback: number, min: number, max: number, what: string): number;
  /** `true` or `false` (`fallback` when absent). */
  boolean(key: string, fallback: boolean): boolean;
  /** An http(s) URL, or `undefined` when absent; `example` goes into the problem. */
  url(key: string, example: string): string | undefined;
  /** A relative key prefix (`registry/`), ending with `/`; `''` when absent. */
  prefix(key?: string): string;
  /** Throw a TypeError naming every problem (`storage driver "<id>": …`), if there is any. */
  done(): void;
}

/** A {@link DriverOptionsChecker} over `options`, refusing keys not in `known`. */
export function checkDriverOptions(driverId: string, options: Readonly<Record<string, unknown>>, known: readonly string[]): DriverOptionsChecker {
  const problems: string[] = [];
  for (const key of Object.keys(options)) if (!known.includes(key)) problems.push(`unknown option "${key}"`);
  const string = (key: string): string | undefined => {
    const value = options[key];
    if (value !== undefined && (typeof value !== 'string' || value === '')) {
      problems.push(`"${key}" must be a non-empty string`);
      return undefined;
    }
    return value as string | undefined;
  };
  return {
    problems,
    string,
    integer(key, fallback, min, max, what) {
      const value = options[key] ?? fallback;
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) problems.push(`"${key}" must be ${what}`);
      return value as number;
    },
    boolean(key, fallback) {
      const value = options[key] ?? fallback;
      if (typeof value !== 'boolean') problems.push(`"${key}" must be true or false`);
      return value as boolean;
    },
    url(key, example) {
      const value = string(key);
      if (value === undefined) return undefined;
      let ok = false;
      try {
        ok = /^https?:$/.test(new URL(value).protocol);
      } catch {
        ok = false;
      }
      if (!ok) problems.push(`"${key}" must be an http(s) URL such as ${example}`);
      return value;
    },
    prefix(key = 'prefix') {
      let prefix = string(key) ?? '';
      if (prefix.startsWith('/') || /[\\\0\r\n]/.test(prefix) || prefix.split('/').some((s, i, all) => (s === '' && i < all.length - 1) || s === '.' || s === '..')) {
        problems.push(`"${key}" must be a relative key prefix such as "registry/" (no leading "/", no empty, "." or ".." segments)`);
      }
      if (prefix !== '' && !prefix.endsWith('/')) prefix = `${prefix}/`;
      return prefix;
    },
    done() {
      if (problems.length > 0) throw new TypeError(`storage driver "${driverId}": ${problems.join('; ')}`);
    },
  };
}
