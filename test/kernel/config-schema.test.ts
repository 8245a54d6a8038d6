// `registry-core config schema`: the whole config schema (kernel and plugins) for editors,
// and the plugin keys' schemas checked at start, every error with the key's path.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, runCli, tempDir } from '../helpers/registry-process.js';

describe('config schema', () => {
  let schema: Record<string, any>;
  let validate: ReturnType<Ajv['compile']>;
  beforeAll(async () => {
    const printed = await runCli(['config', 'schema'], { cwd: tempDir('schema') });
    expect(printed.code).toBe(0);
    schema = JSON.parse(printed.stdout) as Record<string, any>;
    validate = new Ajv({ allErrors: true }).compile(schema);
  });

  it('is one draft-07 document with every shipped plugin\'s keys', () => {
    expect(schema['$schema']).toBe('http://json-schema.org/draft-07/schema#');
    const branches = (block: { allOf: { if: { properties: Record<string, { const: string }> } }[] }, key: string) => block.allOf.slice(1).map((b) => b.if.properties[key]!.const).sort();
    expect(branches(schema['properties'].repositories.additionalProperties, 'format')).toEqual(['cargo', 'conda', 'go', 'maven', 'npm', 'oci', 'pypi', 'zig']);
    expect(branches(schema['properties'].storage.additionalProperties, 'driver')).toEqual(['azure', 'fs', 's3']);
    expect(branches(schema['properties'].auth.properties.providers.items, 'id')).toEqual(['htpasswd']);
  });

  it('validates the shipped example configs as written (${VAR} references included)', () => {
    const examples = readdirSync(path.join(repoRoot, 'examples'), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => path.join(repoRoot, 'examples', d.name, 'registry-core.config.yaml'))
      .filter((file) => {
        try {
          readFileSync(file);
          return true;
        } catch {
          return false;
        }
      });
    expect(examples.length).toBeGreaterThanOrEqual(3);
    for (const file of examples) {
      const ok = validate(parse(readFileSync(file, 'utf8')));
      expect({ file, errors: ok ? [] : validate.errors }).toEqual({ file, errors: [] });
    }
  });

  it('refuses what the loader refuses: kernel keys, plugin keys, driver options', () => {
    const bad = (doc: unknown) => !validate(doc);
    expect(bad({ server: { colour: 'blue' } })).toBe(true);
    expect(bad({ repositories: { m: { format: 'maven', type: 'hosted', versionPolicy: 'releases' } } })).toBe(true);
    expect(bad({ repositories: { m: { format: 'npm', type: 'hosted', allowUnpublsh: false } } })).toBe(true);
    expect(bad({ repositories: { c: { format: 'cargo', type: 'hosted', allowDelete: true } } })).toBe(true);
    expect(bad({ storage: { default: { driver: 's3', bucket: 'b', partSize: 1 } } })).toBe(true);
    expect(bad({ auth: { providers: [{ id: 'htpasswd' }] } })).toBe(true);
    expect(bad({ repositories: { m: { format: 'maven', type: 'hosted', versionPolicy: 'release', allowRedeploy: true, cache: { metadataTtl: 5 } } } })).toBe(false);
    // A format no installed plugin knows keeps its keys its own.
    expect(bad({ repositories: { r: { format: 'raw', type: 'hosted', anything: 1 } } })).toBe(false);
  });
});

describe('plugin keys at start', () => {
  it('config check refuses a bad plugin key with its path, before any plugin is activated', async () => {
    const file = path.join(tempDir('plugin-keys'), 'registry-core.config.yaml');
    writeFileSync(
      file,
      `storage:
  default: { driver: fs, path: ./blobs, compress: true }
repositories:
  maven-local: { format: maven, type: hosted, versionPolicy: releases }
  images: { format: oci, type: hosted, gcGraceSeconds: -1 }
  npm-local: { format: npm, type: hosted, allowUnpublish: "no" }
`,
    );
    const checked = await runCli(['config', 'check', '--config', file]);
    expect(checked.code).not.toBe(0);
    expect(checked.stderr).toContain('repositories.maven-local.versionPolicy: must be one of release, snapshot, mixed');
    expect(checked.stderr).toContain('repositories.images.gcGraceSeconds: must be >= 0');
    expect(checked.stderr).toContain('repositories.npm-local.allowUnpublish: must be boolean');
    expect(checked.stderr).toContain('storage.default.compress: unknown key');
    expect(checked.stdout).not.toContain('config OK');
  });
});
