import { Ajv, type ValidateFunction } from 'ajv';
import { KERNEL_OWNED_KEYS, type ContributionPoint, type JsonSchema, type PluginManifest } from '@registry-core/api';
import { formatAjvErrors } from '../config/load-config.js';
import type { RegistryConfig } from '../config/types.js';

/** The points whose contributions may declare a `configSchema` (a web app has no config block of its own). */
const POINTS = ['formats', 'storageDrivers', 'authProviders'] as const;
export type ConfiguredPoint = (typeof POINTS)[number];

/** The compiled `configSchema`s of one plugin's contributions, by point and id. */
export type ContributionValidators = ReadonlyMap<`${ContributionPoint}:${string}`, ValidateFunction>;

/** Contribution schemas are compiled once each; plugins' schemas never see the kernel's defaults. */
const ajv = new Ajv({ allErrors: true, strict: false });

/**
 * Compile every `configSchema` a manifest declares. A schema that does not compile is an
 * error naming its manifest key (the plugin is then refused).
 */
export function compileContributionSchemas(manifest: PluginManifest): { validators: ContributionValidators; errors: string[] } {
  const validators = new Map<`${ContributionPoint}:${string}`, ValidateFunction>();
  const errors: string[] = [];
  for (const point of POINTS) {
    (manifest.contributes[point] ?? []).forEach((entry, i) => {
      if (!('configSchema' in entry) || !entry.configSchema) return;
      try {
        validators.set(`${point}:${entry.id}`, ajv.compile(entry.configSchema));
      } catch (error) {
        errors.push(`registryCore.contributes.${point}[${i}].configSchema: ${(error as Error).message}`);
      }
    });
  }
  return { validators, errors };
}

/** A config block less the keys the kernel owns (and the fields it computes from them). */
function pluginKeys(block: Readonly<Record<string, unknown>>, point: ContributionPoint): Record<string, unknown> {
  const owned = new Set([...KERNEL_OWNED_KEYS[point], ...(point === 'formats' ? ['maxUploadBytes'] : [])]);
  return Object.fromEntries(Object.entries(block).filter(([key]) => !owned.has(key)));
}

/**
 * Check the config's plugin-owned keys against the schemas of the contributions they
 * belong to: a repository's against its format's, a storage block's against its
 * driver's, an `auth.providers` entry's against its provider's. Every error carries the
 * key's path (`repositories.maven-local.versionPolicy: must be one of release, snapshot, mixed`).
 * Blocks whose contribution no plugin offers, or that declares no schema, are not checked here.
 */
export function checkPluginConfig(config: RegistryConfig, validatorFor: (point: ConfiguredPoint, id: string) => ValidateFunction | undefined): string[] {
  const errors: string[] = [];
  const check = (point: ConfiguredPoint, id: string, block: Readonly<Record<string, unknown>>, at: string) => {
    const validate = validatorFor(point, id);
    if (validate && !validate(pluginKeys(block, point))) errors.push(...formatAjvErrors(validate.errors ?? [], at));
    if (validate && point === 'formats') errors.push(...kindErrors(validate.schema, block, at));
  };
  for (const [name, repository] of Object.entries(config.repositories)) check('formats', repository.format, repository, `repositories.${name}`);
  for (const [name, storage] of Object.entries(config.storage)) check('storageDrivers', storage.driver, storage, `storage.${name}`);
  config.auth.providers.forEach((provider, i) => check('authProviders', provider.id, provider, `auth.providers[${i}]`));
  return errors;
}

/**
 * A format's key set on a kind of repository its schema does not give it to: a property's
 * `repositoryTypes` (`["proxy"]` for a key about the upstream) lists the kinds that take it.
 */
function kindErrors(schema: unknown, block: Readonly<Record<string, unknown>>, at: string): string[] {
  const properties = (schema as { properties?: Record<string, { repositoryTypes?: unknown }> } | undefined)?.properties ?? {};
  const errors: string[] = [];
  for (const [key, property] of Object.entries(properties)) {
    const kinds = property?.repositoryTypes;
    if (!Array.isArray(kinds) || block[key] === undefined || kinds.includes(block['type'])) continue;
    errors.push(`${at}.${key}: only ${kinds.join(' and ')} repositories take this key, not a ${String(block['type'])} one`);
  }
  return errors;
}

/**
 * A format's property as standard draft-07: its `repositoryTypes` (the host's own keyword,
 * enforced by {@link checkPluginConfig}) said in its description instead, so editors and
 * strict validators take the composed schema.
 */
function standardProperty(property: unknown): unknown {
  if (!isRecord(property) || !Array.isArray(property['repositoryTypes'])) return property;
  const { repositoryTypes, ...rest } = property;
  const only = `${(repositoryTypes as string[]).join(' and ')} repositories only`;
  return { ...rest, description: typeof rest['description'] === 'string' ? `${rest['description']} (${only})` : only };
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The whole config schema: the kernel's, with each contribution's `configSchema` applied where its id is used. */
export function composeConfigSchema(kernel: JsonSchema, contributions: readonly { point: ContributionPoint; id: string; configSchema: JsonSchema }[]): JsonSchema {
  const schema = structuredClone(kernel) as Record<string, any>;
  const places: Record<ConfiguredPoint, { block: Record<string, any>; idKey: string; set: (s: Record<string, any>) => void }> = {
    formats: { block: schema.properties.repositories.additionalProperties, idKey: 'format', set: (s) => (schema.properties.repositories.additionalProperties = s) },
    storageDrivers: { block: schema.properties.storage.additionalProperties, idKey: 'driver', set: (s) => (schema.properties.storage.additionalProperties = s) },
    authProviders: { block: schema.properties.auth.properties.providers.items, idKey: 'id', set: (s) => (schema.properties.auth.properties.providers.items = s) },
  };
  for (const point of POINTS) {
    const { block, idKey, set } = places[point];
    // The first plugin offering an id is the one the host uses.
    const mine = contributions.filter((c, i) => c.point === point && contributions.findIndex((o) => o.point === point && o.id === c.id) === i);
    if (mine.length === 0) continue;
    const ids = mine.map((c) => c.id);
    // Known ids are offered to an editor; another plugin's id stays valid.
    block.properties[idKey] = { ...block.properties[idKey], examples: ids };
    const kernelKeys = Object.fromEntries(Object.keys(block.properties).map((k) => [k, true]));
    const branches = mine.map(({ id, configSchema }) => {
      const own = configSchema as Record<string, any>;
      return {
        if: { type: 'object', properties: { [idKey]: { const: id } }, required: [idKey] },
        // The plugin's schema, the kernel's keys allowed beside its own (already checked above).
        then: { ...own, properties: { ...kernelKeys, ...Object.fromEntries(Object.entries(own['properties'] ?? {}).map(([key, property]) => [key, standardProperty(property)])) } },
      };
    });
    set({ allOf: [block, ...branches] });
  }
  return schema;
}

/** A `${VAR}` or `${VAR:-default}` reference, expanded from the environment when the config loads. */
const ENV_REFERENCE = { type: 'string', pattern: '\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}', description: 'An environment variable reference, expanded when the config loads.' };

/** Keywords whose values are data (values, names), not schemas. */
const LITERAL_KEYWORDS = new Set(['default', 'examples', 'enum', 'const', 'required', 'pattern', 'type', 'description']);

/**
 * Let a value that must be a number, a boolean, one of a list or match a pattern be a
 * `${VAR}` reference instead, as the loader expands those first: for an editor, which
 * sees the file as written.
 */
function allowEnvReferences(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(allowEnvReferences);
  if (typeof node !== 'object' || node === null) return node;
  if (isScalar(node as Record<string, unknown>)) {
    const { description, default: fallback, examples, ...rest } = node as Record<string, unknown>;
    return { ...(description !== undefined ? { description } : {}), ...(fallback !== undefined ? { default: fallback } : {}), ...(examples !== undefined ? { examples } : {}), anyOf: [rest, ENV_REFERENCE] };
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (LITERAL_KEYWORDS.has(key)) out[key] = value;
    // A map of key names to schemas (a key may be called `type`), not a schema.
    else if (key === 'properties') out[key] = Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, allowEnvReferences(v)]));
    else out[key] = allowEnvReferences(value);
  }
  return out;
}

/** A schema of a value a `${VAR}` string could not satisfy: a number, a boolean, a listed value, a patterned string. */
function isScalar(schema: Record<string, unknown>): boolean {
  if (Array.isArray(schema['anyOf'])) return (schema['anyOf'] as Record<string, unknown>[]).every(isScalar);
  const type = schema['type'];
  if (schema['enum'] !== undefined) return true;
  return type === 'number' || type === 'integer' || type === 'boolean' || (type === 'string' && schema['pattern'] !== undefined);
}

/**
 * The whole config file's JSON schema (draft-07), as an editor wants it: the kernel's
 * keys, every contribution's `configSchema` where its id is used, and `${VAR}` references
 * allowed wherever the loader would expand them.
 */
export function wholeConfigSchema(kernel: JsonSchema, manifests: readonly PluginManifest[]): JsonSchema {
  const contributions = manifests.flatMap((m) => POINTS.flatMap((point) => (m.contributes[point] ?? []).flatMap((c) => (c.configSchema ? [{ point, id: c.id, configSchema: c.configSchema }] : []))));
  const composed = composeConfigSchema(kernel, contributions);
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'registry-core configuration',
    ...(allowEnvReferences(composed) as Record<string, unknown>),
  };
}
