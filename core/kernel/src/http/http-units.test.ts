import { describe, expect, it } from 'vitest';
import type { RouteDefinition } from '@registry-core/api';
import { parseAuthorization } from '../auth/credentials.js';
import { hashPassword, isPasswordHash, verifyPassword } from '../auth/password.js';
import { FormatRouter } from './format-router.js';
import { parseRange } from './respond.js';

describe('parseRange', () => {
  it.each([
    ['bytes=0-9', 100, { start: 0, end: 9 }],
    ['bytes=90-', 100, { start: 90, end: 99 }],
    ['bytes=-10', 100, { start: 90, end: 99 }],
    ['bytes=95-200', 100, { start: 95, end: 99 }],
    ['bytes=100-', 100, 'unsatisfiable'],
    ['bytes=-0', 100, 'unsatisfiable'],
    ['bytes=5-2', 100, undefined],
    ['bytes=0-1,5-6', 100, undefined],
    ['items=0-1', 100, undefined],
  ] as const)('%s of %d', (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });
});

describe('parseAuthorization', () => {
  it('parses bearer and basic', () => {
    expect(parseAuthorization('Bearer abc')).toEqual({ kind: 'bearer', token: 'abc' });
    expect(parseAuthorization(`Basic ${Buffer.from('u:p:w').toString('base64')}`)).toEqual({ kind: 'basic', user: 'u', password: 'p:w' });
    expect(parseAuthorization(undefined)).toEqual({ kind: 'none' });
    expect(parseAuthorization('Basic bm9jb2xvbg==').kind).toBe('invalid');
    expect(parseAuthorization('Digest x').kind).toBe('invalid');
  });
});

describe('password hashing', () => {
  it('verifies the right password only', async () => {
    const hash = await hashPassword('s3cret-password');
    expect(isPasswordHash(hash)).toBe(true);
    expect(await verifyPassword('s3cret-password', hash)).toBe(true);
    expect(await verifyPassword('s3cret-passworD', hash)).toBe(false);
    expect(await verifyPassword('x', 'plain-text')).toBe(false);
  });
});

describe('FormatRouter', () => {
  const handler = async () => ({});
  const routes: RouteDefinition[] = [
    { method: 'GET', path: '/-/ping', permission: 'read', handler },
    { method: ['GET', 'PUT'], path: '/:name', permission: 'read', handler },
    { method: 'GET', path: '/*rest', permission: 'read', handler },
  ];
  const router = new FormatRouter(routes);

  it('matches in order, decodes params, splits wildcards', () => {
    expect(router.find('GET', '/-/ping')).toMatchObject({ route: routes[0] });
    expect(router.find('HEAD', '/@scope%2fname')).toMatchObject({ route: routes[1], params: { name: '@scope/name' } });
    expect(router.find('GET', '/@scope/name/-/name-1.0.0.tgz')).toMatchObject({ route: routes[2], params: { rest: ['@scope', 'name', '-', 'name-1.0.0.tgz'] } });
  });

  it('tells a wrong method from an unknown path', () => {
    expect(router.find('DELETE', '/x')).toBe('methodNotAllowed');
    expect(new FormatRouter([routes[0]!]).find('GET', '/other')).toBeUndefined();
  });
});
