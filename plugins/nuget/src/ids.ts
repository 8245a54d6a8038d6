import { BadRequestError } from '@registry-core/api';

/** NuGet's package id rule (PackageIdValidator): dot- or dash-separated runs of letters, digits and `_`, at most 100 characters. */
const ID = /^\w+(?:[.-]\w+)*$/;

/** A package id from a client or an upstream, checked; refused with a 400 otherwise. */
export function validateId(id: string | undefined): string {
  if (id === undefined || id.length === 0 || id.length > 100 || !/^[\x20-\x7e]+$/.test(id) || !ID.test(id)) {
    throw new BadRequestError(`${JSON.stringify((id ?? '').slice(0, 120))} is not a valid NuGet package id`);
  }
  return id;
}

/** The id as URLs and the component index write it: lower-cased (ids are case-insensitive). */
export const lowerId = (id: string) => validateId(id).toLowerCase();
