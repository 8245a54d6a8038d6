/**
 * Configuration from the environment (the container and PaaS habit): `PORT`, `HOST` and
 * `REGISTRY_CORE_<PATH>` overrides of any config key, applied over the config file (after its
 * `${VAR}` expansion) and under the command-line flags. See docs/configuration.md,
 * "Configuration from the environment".
 *
 * The path: `REGISTRY_CORE_` then the keys from the top, separated by a double underscore;
 * in a key, a single underscore stands for a word break, matched to the key already there
 * (in the file, or in the schema) without regard to case, `_` or `-`: `SERVER__MEMORY_CACHE_SIZE`
 * is `server.memoryCacheSize`, `REPOSITORIES__NPM_PROXY__UPSTREAM` is
 * `repositories.npm-proxy.upstream` when the file has an `npm-proxy`. A key found nowhere is
 * taken in camelCase (`FOO_BAR`: `fooBar`). The value is JSON when it parses as JSON
 * (`4000`, `false`, `["a"]`, `{"a":1}`), else the string as it is. Values are never printed:
 * an error names the variable and the key.
 */
import { configSchema } from './schema.js';

/** The config file to load when `--config` is not given. */
export const CONFIG_FILE_ENV = 'REGISTRY_CORE_CONFIG';
const PREFIX = 'REGISTRY_CORE_';
/**
 * `REGISTRY_CORE_` variables that are not config paths: the config file, the data folder,
 * the CLI's token, a worker's slot (`server.workers`), and the test and build switches (the crash-point harness's
 * `CRASH_AT`/`CRASH_TRACE`, the browser test's screenshot folder, the web app's rebuild).
 */
export const NOT_PATHS: ReadonlySet<string> = new Set([
  'REGISTRY_CORE_CONFIG',
  'REGISTRY_CORE_DATA_DIR',
  'REGISTRY_CORE_TOKEN',
  'REGISTRY_CORE_CRASH_AT',
  'REGISTRY_CORE_CRASH_TRACE',
  'REGISTRY_CORE_SCREENSHOTS',
  'REGISTRY_CORE_WEB_REBUILD',
  'REGISTRY_CORE_WORKER_SLOT',
]);

/** One variable and the config path it sets. */
export interface EnvOverride {
  readonly variable: string;
  readonly path: readonly string[];
}

/** A value from the environment: JSON when it parses, else the string. */
export function parseEnvValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

type SchemaNode = { properties?: Record<string, SchemaNode>; additionalProperties?: SchemaNode | boolean } | undefined;

const squash = (key: string) => key.replace(/[-_]/g, '').toLowerCase();
const camel = (segment: string) => segment.toLowerCase().replace(/_+([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

/** The key a segment names: one already in `object` or in the schema, else its camelCase. */
function keyFor(segment: string, object: Record<string, unknown> | undefined, schema: SchemaNode): string {
  const wanted = squash(segment);
  for (const key of Object.keys(object ?? {})) if (squash(key) === wanted) return key;
  for (const key of Object.keys(schema?.properties ?? {})) if (squash(key) === wanted) return key;
  return camel(segment);
}

function childSchema(schema: SchemaNode, key: string): SchemaNode {
  const named = schema?.properties?.[key];
  if (named) return named;
  return typeof schema?.additionalProperties === 'object' ? schema.additionalProperties : undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Apply the environment's overrides to a config object (returns a new one). `PORT` and
 * `HOST` set `server.port` and `server.host`; a `REGISTRY_CORE_SERVER__PORT` or `..._HOST`
 * wins over them. Shorter paths first, so a whole object given as JSON is refined by deeper
 * variables. Problems are pushed to `errors`, naming the variable, never its value.
 */
export function applyEnvOverrides(config: unknown, env: NodeJS.ProcessEnv, errors: string[]): { config: unknown; applied: EnvOverride[] } {
  const wanted: { variable: string; segments: string[]; text: string }[] = [];
  if (env['PORT']) wanted.push({ variable: 'PORT', segments: ['SERVER', 'PORT'], text: env['PORT'] });
  if (env['HOST']) wanted.push({ variable: 'HOST', segments: ['SERVER', 'HOST'], text: env['HOST'] });
  const own = Object.keys(env)
    .filter((name) => name.startsWith(PREFIX) && !NOT_PATHS.has(name) && env[name] !== undefined)
    .sort();
  for (const variable of own) {
    const segments = variable.slice(PREFIX.length).split('__');
    if (segments.some((s) => !/^[A-Za-z0-9]+(_[A-Za-z0-9]+)*$/.test(s))) {
      errors.push(`${variable}: not a config path (keys separated by "__", words in a key by "_", e.g. REGISTRY_CORE_SERVER__PORT)`);
      continue;
    }
    wanted.push({ variable, segments, text: env[variable]! });
  }
  // Fewer segments first; at equal depth PORT/HOST before REGISTRY_CORE_SERVER__PORT/HOST.
  wanted.sort((a, b) => a.segments.length - b.segments.length);
  const root: Record<string, unknown> = isObject(config) ? structuredClone(config) : {};
  const applied: EnvOverride[] = [];
  for (const { variable, segments, text } of wanted) {
    let object = root;
    let schema = configSchema as SchemaNode;
    const path: string[] = [];
    let failed = false;
    for (const [i, segment] of segments.entries()) {
      const key = keyFor(segment, object, schema);
      path.push(key);
      if (i === segments.length - 1) break;
      const next = object[key];
      if (next === undefined) object[key] = {};
      else if (!isObject(next)) {
        errors.push(`${path.join('.')} (from ${variable}): holds a value, not keys`);
        failed = true;
        break;
      }
      object = object[key] as Record<string, unknown>;
      schema = childSchema(schema, key);
    }
    if (failed) continue;
    object[path.at(-1)!] = parseEnvValue(text);
    applied.push({ variable, path });
  }
  return { config: root, applied };
}

/** `server.host` as the environment sets it, if it does (for the zero-config default's loopback check). */
export function hostFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  const value = env['REGISTRY_CORE_SERVER__HOST'] ?? env['HOST'];
  return value ? String(parseEnvValue(value)) : undefined;
}
