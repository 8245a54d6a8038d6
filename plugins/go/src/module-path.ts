import { BadRequestError, NotFoundError } from '@registry-core/api';
import { isCanonicalVersion, parseVersion } from './semver.js';

/**
 * Module paths and versions as the go command writes them in GOPROXY URLs: every upper-case
 * letter `X` is written `!x` (so that case-insensitive file systems and servers keep
 * `github.com/Azure` and `github.com/azure` apart). Paths from requests are hostile: they are
 * decoded and checked as golang.org/x/mod/module.CheckPath does before anything is looked up.
 */

/** `github.com/Azure/x` → `github.com/!azure/x`. */
export function escapeCase(text: string): string {
  return text.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);
}

/** `github.com/!azure/x` → `github.com/Azure/x`; `undefined` for a raw upper-case letter or a stray `!`. */
export function unescapeCase(text: string): string | undefined {
  if (/[A-Z]/.test(text)) return undefined;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== '!') {
      out += c;
      continue;
    }
    const next = text[i + 1];
    if (next === undefined || !/[a-z]/.test(next)) return undefined;
    out += next.toUpperCase();
    i++;
  }
  return out;
}

const MAX_PATH_LENGTH = 1024;

/** Why `path` is not a valid module path (module.CheckPath), or `undefined` when it is. */
export function modulePathProblem(path: string): string | undefined {
  if (path.length === 0) return 'the module path is empty';
  if (path.length > MAX_PATH_LENGTH) return `the module path is longer than ${MAX_PATH_LENGTH} characters`;
  if (path.startsWith('/') || path.endsWith('/')) return 'the module path begins or ends with a slash';
  const elements = path.split('/');
  for (const element of elements) {
    if (element === '') return 'the module path has an empty element (a double slash)';
    if (!/^[A-Za-z0-9._~-]+$/.test(element)) return `the path element ${JSON.stringify(element)} has a character module paths do not allow`;
    if (element.startsWith('.') || element.endsWith('.')) return `the path element ${JSON.stringify(element)} begins or ends with a dot`;
  }
  const first = elements[0]!;
  if (!/^[a-z0-9.-]+$/.test(first)) return `the first path element ${JSON.stringify(first)} may hold only lower-case letters, digits, dots and dashes`;
  if (!first.includes('.')) return `the first path element ${JSON.stringify(first)} has no dot (it must be a domain name)`;
  if (first.startsWith('-')) return `the first path element ${JSON.stringify(first)} begins with a dash`;
  const major = pathMajor(path);
  if (major === null) return 'the module path ends in an invalid major version suffix';
  return undefined;
}

/**
 * The major version a module path demands: `example.com/m/v2` → 2, `gopkg.in/yaml.v3` → 3,
 * `gopkg.in/x.v0` → 0; `undefined` without a suffix (v0 or v1, or v2+ as +incompatible);
 * `null` for an invalid suffix (`/v1`, `/v02`).
 */
export function pathMajor(path: string): number | undefined | null {
  if (path.startsWith('gopkg.in/')) {
    const m = /\.v(0|[1-9]\d*)(-unstable)?$/.exec(path);
    return m ? Number(m[1]) : null;
  }
  const last = path.slice(path.lastIndexOf('/') + 1);
  if (!/^v\d+$/.test(last) || path.indexOf('/') < 0) return undefined;
  if (!/^v[1-9]\d*$/.test(last) || last === 'v1') return null;
  return Number(last.slice(1));
}

/** Why `version` cannot be a version of module `path` (module.Check), or `undefined`. */
export function versionProblem(path: string, version: string): string | undefined {
  if (!isCanonicalVersion(version)) return `${JSON.stringify(version)} is not a canonical Go semantic version (vMAJOR.MINOR.PATCH[-pre][+incompatible])`;
  const parsed = parseVersion(version)!;
  const major = pathMajor(path);
  const incompatible = parsed.build === '+incompatible';
  if (path.startsWith('gopkg.in/')) {
    if (incompatible || parsed.major !== major) return `${path} takes only v${major} versions`;
    return undefined;
  }
  if (typeof major === 'number') {
    if (incompatible) return `${path} has a major version suffix: +incompatible versions do not apply`;
    if (parsed.major !== major) return `${path} takes only v${major}.x.y versions`;
    return undefined;
  }
  if (parsed.major >= 2 && !incompatible) return `v${parsed.major} versions of ${path} need the /v${parsed.major} path suffix (or +incompatible without a go.mod)`;
  if (parsed.major < 2 && incompatible) return `+incompatible applies to v2 and later only`;
  return undefined;
}

/** What a GOPROXY request path asks for. */
export type ModuleRequest =
  | { readonly module: string; readonly kind: 'list' }
  | { readonly module: string; readonly kind: 'latest' }
  /** `@v/<query>.info` for what is not a version (a branch, a commit): resolved by an upstream, if at all. */
  | { readonly module: string; readonly kind: 'query'; readonly query: string }
  | { readonly module: string; readonly kind: 'info' | 'mod' | 'zip'; readonly version: string };

/**
 * A request path inside a repository, as received (`/example.com/!foo/@v/v1.0.0.zip`),
 * decoded and validated. Malformed paths are a 400 (they cannot come from the go command);
 * a version the protocol could ask for but this registry does not resolve (a branch name) is
 * a 404, so that the go command falls through to the next entry of GOPROXY. For a publish
 * (`write`) a version the path does not take is a 400.
 */
export function parseModuleRequest(rawPath: string, options: { readonly write?: boolean } = {}): ModuleRequest {
  const path = decodeSegments(rawPath.replace(/^\//, ''));
  let escapedModule: string;
  let tail: string;
  if (path.endsWith('/@latest')) {
    escapedModule = path.slice(0, -'/@latest'.length);
    tail = '@latest';
  } else {
    const at = path.lastIndexOf('/@v/');
    if (at < 0) throw new NotFoundError('not a GOPROXY path: <module>/@v/list, <module>/@v/<version>.info|.mod|.zip or <module>/@latest');
    escapedModule = path.slice(0, at);
    tail = path.slice(at + '/@v/'.length);
  }
  const module = decodeModulePath(escapedModule);
  if (tail === '@latest') return { module, kind: 'latest' };
  if (tail === 'list') return { module, kind: 'list' };
  const m = /^(.+)\.(info|mod|zip)$/.exec(tail);
  if (!m || m[1]!.includes('/')) throw new NotFoundError(`not a GOPROXY path: ${tail}`);
  const version = unescapeCase(m[1]!);
  if (version === undefined) throw new BadRequestError(`invalid version ${JSON.stringify(m[1])}: upper-case letters must be written !x`);
  const problem = versionProblem(module, version);
  // `go get m@master`: a query only an upstream that reads version control can resolve, to
  // the `.info` of a canonical version.
  // A publish names a version the path takes: anything else is a bad request.
  if (problem && options.write) throw new BadRequestError(`${module}@${version}: ${problem}`);
  if (problem && m[2] === 'info' && !isCanonicalVersion(version) && /^[A-Za-z0-9._~+-]{1,128}$/.test(version) && !/^\.\.?$/.test(version)) return { module, kind: 'query', query: version };
  if (problem) throw new NotFoundError(`${module}@${version}: ${problem}`);
  return { module, kind: m[2] as 'info' | 'mod' | 'zip', version };
}

/**
 * The request path with each segment percent-decoded (the go command writes `!` as `%21`);
 * a segment that decodes to a slash, a backslash, a percent sign or a control character is
 * refused: no module path or version holds one.
 */
function decodeSegments(raw: string): string {
  return raw
    .split('/')
    .map((segment) => {
      let decoded: string;
      try {
        decoded = decodeURIComponent(segment);
      } catch {
        throw new BadRequestError('invalid module request path: bad percent-encoding');
      }
      // eslint-disable-next-line no-control-regex
      if (/[/\\%\u0000-\u001f\u007f]/.test(decoded)) throw new BadRequestError('invalid module request path: an encoded slash, backslash, percent sign or control character');
      return decoded;
    })
    .join('/');
}

/** An escaped module path from a URL, decoded and checked; 400 when invalid. */
export function decodeModulePath(escaped: string): string {
  const module = unescapeCase(escaped);
  if (module === undefined) throw new BadRequestError(`invalid module path ${JSON.stringify(escaped.slice(0, 200))}: upper-case letters must be written !x`);
  const problem = modulePathProblem(module);
  if (problem) throw new BadRequestError(`invalid module path ${JSON.stringify(module.slice(0, 200))}: ${problem}`);
  return module;
}
