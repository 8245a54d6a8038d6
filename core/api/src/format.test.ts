import { describe, expect, it } from 'vitest';
import { basicChallenge, plainTextErrorBody } from './format.js';

describe('format helpers', () => {
  it('writes plain-text errors with the message as the reason phrase', () => {
    expect(plainTextErrorBody({ status: 409, code: 'CONFLICT', message: 'already deployed' })).toEqual({ contentType: 'text/plain; charset=utf-8', body: '409 already deployed\n', reasonPhrase: 'already deployed' });
  });

  it('names the repository in a Basic challenge', () => {
    expect(basicChallenge({ name: 'maven-local' })).toBe('Basic realm="registry-core/maven-local"');
  });
});
