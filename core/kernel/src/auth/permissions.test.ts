import type { Principal } from '@registry-core/api';
import { describe, expect, it } from 'vitest';
import { PermissionRules, globToRegExp } from './permissions.js';

const user = (name: string, roles: string[] = []): Principal => ({ name, anonymous: false, roles, via: 'token', readOnly: false });
const anonymous: Principal = { name: 'anonymous', anonymous: true, roles: [], via: 'anonymous', readOnly: false };

describe('globToRegExp', () => {
  it('keeps * inside a segment and lets ** cross them', () => {
    expect(globToRegExp('@team-a/*').test('@team-a/tool')).toBe(true);
    expect(globToRegExp('@team-a/*').test('@team-a/x/y')).toBe(false);
    expect(globToRegExp('@team-a/*').test('@team-b/tool')).toBe(false);
    expect(globToRegExp('com/acme/**').test('com/acme/a/b')).toBe(true);
    expect(globToRegExp('npm-*').test('npm-local')).toBe(true);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
  });
});

describe('PermissionRules', () => {
  const rules = new PermissionRules([
    { repositories: ['npm-*'], packages: ['@team-a/*'], write: ['team-a'], delete: ['team-a-leads'] },
    { repositories: ['npm-*'], write: ['group:release'] },
    { repositories: ['private'], read: ['$authenticated'] },
    { repositories: ['open'], read: ['$all'], write: ['$anonymous'] },
  ]);
  const alice = user('alice', ['team-a']);
  const bob = user('bob');
  const releaser = user('rel', ['release']);

  it('grants a team its own names only', () => {
    expect(rules.decide(alice, 'write', 'npm-local', '@team-a/x')).toBe(true);
    expect(rules.decide(alice, 'write', 'npm-local', '@team-b/x')).toBe(false);
    expect(rules.decide(bob, 'write', 'npm-local', '@team-a/x')).toBe(false);
    expect(rules.decide(releaser, 'write', 'npm-local', '@team-a/x')).toBe(true);
  });

  it('answers a check without a name: may the principal do it to some name there', () => {
    expect(rules.decide(alice, 'write', 'npm-local')).toBe(true);
    expect(rules.decide(bob, 'write', 'npm-local')).toBe(false);
  });

  it('stays silent where no rule speaks about the permission or the repository', () => {
    expect(rules.decide(bob, 'read', 'npm-local', 'x')).toBeUndefined();
    expect(rules.decide(bob, 'write', 'other', 'x')).toBeUndefined();
    expect(rules.decide(alice, 'delete', 'npm-local', 'plain')).toBeUndefined();
  });

  it('without a name, lets a rule for some names grant but never refuse', () => {
    const only = new PermissionRules([{ repositories: ['r'], packages: ['@secret/*'], read: ['team-a'] }]);
    expect(only.decide(anonymous, 'read', 'r')).toBeUndefined();
    expect(only.decide(user('alice', ['team-a']), 'read', 'r')).toBe(true);
    expect(only.decide(anonymous, 'read', 'r', '@secret/x')).toBe(false);
    expect(only.decide(anonymous, 'read', 'r', 'open')).toBeUndefined();
  });

  it('knows $all, $authenticated and $anonymous', () => {
    expect(rules.decide(anonymous, 'read', 'private')).toBe(false);
    expect(rules.decide(bob, 'read', 'private')).toBe(true);
    expect(rules.decide(anonymous, 'read', 'open')).toBe(true);
    expect(rules.decide(anonymous, 'write', 'open')).toBe(true);
    expect(rules.decide(bob, 'write', 'open')).toBe(false);
  });
});
