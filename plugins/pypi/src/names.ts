import { BadRequestError } from '@registry-core/api';

/** Longest project name accepted (PyPI's own limit is lower in practice; this bounds storage keys). */
export const MAX_NAME_LENGTH = 200;
const PEP_508_NAME = /^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$/i;

/** PEP 503 normalization: lower case, every run of `-`, `_` and `.` becomes one `-`. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** A project name as PEP 508 allows it (letters, digits, `.`, `_`, `-`; alphanumeric at both ends). */
export function validateProjectName(name: string): string {
  if (typeof name !== 'string' || name === '') throw new BadRequestError('Invalid project name: it is empty.', 'INVALID_NAME');
  if (name.length > MAX_NAME_LENGTH) throw new BadRequestError(`Invalid project name: longer than ${MAX_NAME_LENGTH} characters.`, 'INVALID_NAME');
  if (!PEP_508_NAME.test(name)) {
    throw new BadRequestError(`Invalid project name ${JSON.stringify(name.slice(0, 100))}: use letters, digits, ".", "_" and "-", starting and ending with a letter or digit.`, 'INVALID_NAME');
  }
  return name;
}
