import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from '@registry-core/api';
import { describe, expect, it } from 'vitest';
import { HtpasswdProvider, type HtpasswdOptions } from './htpasswd.js';
import { parseOptions } from './index.js';

const HTPASSWD = '/usr/bin/htpasswd';

function logger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const log = {
    warnings,
    debug: () => undefined,
    info: () => undefined,
    warn: (message: string) => void warnings.push(message),
    error: () => undefined,
    child: () => log,
  };
  return log as unknown as Logger & { warnings: string[] };
}

function provider(file: string, options: Partial<HtpasswdOptions> = {}, log = logger()) {
  return new HtpasswdProvider({ file, allowRegistration: false, maxUsers: Infinity, bcryptRounds: 4, groups: {}, ...options }, log);
}

/** Apache's own htpasswd (Debian package apache2-utils): the file format's reference. */
function apache(args: string[]): void {
  if (!existsSync(HTPASSWD)) throw new Error(`${HTPASSWD} is missing: apt-get install -y apache2-utils`);
  execFileSync(HTPASSWD, args, { stdio: 'ignore' });
}

const tempFile = () => path.join(mkdtempSync(path.join(tmpdir(), 'rc-htpasswd-')), 'htpasswd');

describe('htpasswd provider', () => {
  it("accepts Apache's bcrypt and {SHA} lines, refuses its MD5 ones for that user, and does not know other users", async () => {
    const file = tempFile();
    apache(['-bcB', '-C', '5', file, 'alice', 'alice-secret']);
    apache(['-bs', file, 'bob', 'bob-secret']);
    apache(['-bm', file, 'carol', 'carol-secret']);
    const log = logger();
    const p = provider(file, { groups: { admins: ['alice'], devs: ['alice', 'bob'] } }, log);
    expect(await p.authenticate('alice', 'alice-secret')).toEqual({ name: 'alice', roles: ['admins', 'devs'] });
    expect(await p.authenticate('alice', 'wrong')).toBe(false);
    expect(await p.authenticate('bob', 'bob-secret')).toEqual({ name: 'bob', roles: ['devs'] });
    expect(await p.authenticate('bob', 'bob-secreT')).toBe(false);
    expect(await p.authenticate('carol', 'carol-secret')).toBe(false);
    expect(await p.authenticate('dave', 'anything')).toBeUndefined();
    expect(log.warnings.some((w) => /bob has an unsalted \{SHA\}/.test(w))).toBe(true);
    expect(log.warnings.some((w) => /carol has a Apache MD5/.test(w))).toBe(true);
    expect(await p.rolesOf('alice')).toEqual(['admins', 'devs']);
    expect(await p.rolesOf('dave')).toBeUndefined();
  });

  it("reads Verdaccio's lines (name:hash:autocreated date) and re-reads the file when it changes", async () => {
    const file = tempFile();
    apache(['-bcB', '-C', '4', file, 'erin', 'erin-secret']);
    writeFileSync(file, `${readFileSync(file, 'utf8').trim()}:autocreated 2024-05-01T10:00:00.000Z\n`);
    const p = provider(file);
    expect(await p.authenticate('erin', 'erin-secret')).toEqual({ name: 'erin', roles: [] });
    await new Promise((r) => setTimeout(r, 1100));
    apache(['-bB', '-C', '4', file, 'frank', 'frank-secret']);
    expect(await p.authenticate('frank', 'frank-secret')).toEqual({ name: 'frank', roles: [] });
  });

  it('registers users as bcrypt lines htpasswd itself verifies, atomically, once per name, up to maxUsers', async () => {
    const file = tempFile();
    const p = provider(file, { allowRegistration: true, maxUsers: 3 });
    const results = await Promise.all(['gus', 'hana', 'gus'].map((name) => p.addUser!(name, `${name}-secret`)));
    expect(results.filter((r) => r === false)).toHaveLength(1);
    expect(readFileSync(file, 'utf8').split('\n').filter(Boolean)).toHaveLength(2);
    expect(readFileSync(file, 'utf8')).toMatch(/^gus:\$2y\$04\$/m);
    // Apache's htpasswd verifies what was written (-v: verify).
    apache(['-vb', file, 'hana', 'hana-secret']);
    expect(() => apache(['-vb', file, 'hana', 'wrong'])).toThrow();
    expect(await p.addUser!('ivan', 'ivan-secret')).toEqual({ name: 'ivan', roles: [] });
    await expect(p.addUser!('jo', 'jo-secret')).rejects.toThrow(/maxUsers 3/);
    await expect(p.addUser!('bad:name', 'secret-secret')).rejects.toThrow(/invalid user name/);
    expect(provider(file).addUser).toBeUndefined();
  });

  it('validates its options, naming each problem', () => {
    expect(() => parseOptions({}, '/etc')).toThrow(/"file" is required/);
    expect(() => parseOptions({ file: 'x', bcryptRounds: 40, groups: { a: 'b' }, extra: 1 }, '/etc')).toThrow(/unknown option "extra".*bcryptRounds.*groups/);
    expect(parseOptions({ file: 'users/htpasswd' }, '/etc/registry')).toMatchObject({ file: '/etc/registry/users/htpasswd', bcryptRounds: 10, allowRegistration: false });
  });
});
