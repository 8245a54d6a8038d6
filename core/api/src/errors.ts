/**
 * Errors with a stable `code` and an HTTP status. The host maps every one of them to the
 * format's own error body in one place, so handlers only throw.
 *
 * Detection is structural (`isRegistryError`), never `instanceof`: a plugin may load its
 * own copy of this package and its classes must still be recognised.
 */

/** Stable machine-readable error codes. */
export type RegistryErrorCode =
  | 'BAD_REQUEST'
  | 'INVALID_NAME'
  | 'INVALID_VERSION'
  | 'INTEGRITY_MISMATCH'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'NOT_ACCEPTABLE'
  | 'GONE'
  | 'CONFLICT'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'RANGE_NOT_SATISFIABLE'
  | 'UPSTREAM_FAILED'
  | 'UPSTREAM_TIMEOUT'
  | 'TOO_MANY_REQUESTS'
  | 'UNAVAILABLE'
  | 'METADATA_MEMORY_BUSY'
  | 'METADATA_TOO_LARGE'
  | 'INTERNAL'
  | (string & {});

const BRAND = Symbol.for('registry-core.error');

/** Base class of every error a plugin or the host throws on purpose. */
export class RegistryError extends Error {
  /** Structural brand, see {@link isRegistryError}. */
  readonly [BRAND] = true;
  /** Stable code, for logs, tests and error bodies. */
  readonly code: RegistryErrorCode;
  /** HTTP status the host answers with. */
  readonly status: number;
  /** Extra headers the host adds to the error response (e.g. `Retry-After`). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: RegistryErrorCode,
    message: string,
    status: number,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.headers = options?.headers ?? {};
  }
}

/** True when `value` is a {@link RegistryError} from any copy of this package. */
export function isRegistryError(value: unknown): value is RegistryError {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[BRAND] === true &&
    typeof (value as RegistryError).status === 'number'
  );
}

/** 400: the request is malformed. */
export class BadRequestError extends RegistryError {
  constructor(message: string, code: RegistryErrorCode = 'BAD_REQUEST') {
    super(code, message, 400);
  }
}

/** 401: credentials are missing or wrong. */
export class UnauthorizedError extends RegistryError {
  constructor(message = 'authentication required') {
    super('UNAUTHORIZED', message, 401);
  }
}

/** 403: the principal is known but not allowed. */
export class ForbiddenError extends RegistryError {
  constructor(message: string) {
    super('FORBIDDEN', message, 403);
  }
}

/** 404. */
export class NotFoundError extends RegistryError {
  constructor(message = 'not found', code: RegistryErrorCode = 'NOT_FOUND') {
    super(code, message, 404);
  }
}

/** 405. */
export class MethodNotAllowedError extends RegistryError {
  constructor(message = 'method not allowed') {
    super('METHOD_NOT_ALLOWED', message, 405);
  }
}

/** 409: the write conflicts with stored state. */
export class ConflictError extends RegistryError {
  constructor(message: string) {
    super('CONFLICT', message, 409);
  }
}

/** 413: a body or an artifact is over the configured limit. */
export class PayloadTooLargeError extends RegistryError {
  constructor(message: string) {
    super('PAYLOAD_TOO_LARGE', message, 413);
  }
}

/** 400 with code INTEGRITY_MISMATCH: content does not match the digest announced for it. */
export class IntegrityError extends RegistryError {
  constructor(message: string, status = 400) {
    super('INTEGRITY_MISMATCH', message, status);
  }
}

/** 429: too many attempts (failed logins); `Retry-After` says when to try again. */
export class TooManyRequestsError extends RegistryError {
  constructor(message: string, retryAfterSeconds: number) {
    super('TOO_MANY_REQUESTS', message, 429, { headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) } });
  }
}

/** 406: none of the representations the client accepts (its Accept header) is served. */
export class NotAcceptableError extends RegistryError {
  constructor(message: string) {
    super('NOT_ACCEPTABLE', message, 406);
  }
}

/** 410: the endpoint or resource is gone for good (a retired API, say). */
export class GoneError extends RegistryError {
  constructor(message: string) {
    super('GONE', message, 410);
  }
}

/** 416: a byte range or an upload offset that does not fit what is stored. */
export class RangeNotSatisfiableError extends RegistryError {
  constructor(message: string, options?: { headers?: Record<string, string> }) {
    super('RANGE_NOT_SATISFIABLE', message, 416, options);
  }
}

/** 502: the upstream failed and nothing usable is cached. */
export class UpstreamError extends RegistryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UPSTREAM_FAILED', message, 502, options);
  }
}

/**
 * 502: the kernel refused to ask an upstream by policy (an origin not allowed, a private
 * address, a redirect leaving the allowed origins); never retried, since asking again gives
 * the same answer. A format whose client chose the URL (Zig's URL cache) answers it as the
 * client's error: see {@link isUpstreamRefusal}.
 */
export class UpstreamRefusedError extends UpstreamError {
  /** Structural mark, see {@link isUpstreamRefusal}. */
  readonly upstreamRefused = true;
}

/** True when `value` is an {@link UpstreamRefusedError} from any copy of this package. */
export function isUpstreamRefusal(value: unknown): value is UpstreamRefusedError {
  return isRegistryError(value) && (value as { upstreamRefused?: unknown }).upstreamRefused === true;
}

/**
 * 503: the server cannot take this request now (a shared resource, such as the memory for
 * metadata documents, is taken); `retryAfterSeconds` goes out as `Retry-After`.
 */
export class ServiceUnavailableError extends RegistryError {
  constructor(message: string, code: RegistryErrorCode = 'UNAVAILABLE', retryAfterSeconds?: number) {
    super(code, message, 503, retryAfterSeconds === undefined ? undefined : { headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) } });
  }
}

/** 504: the upstream did not answer in time and nothing usable is cached. */
export class UpstreamTimeoutError extends RegistryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UPSTREAM_TIMEOUT', message, 504, options);
  }
}

/**
 * 400 with code REPOSITORY_POLICY: a hosted repository's own policy does not take this write
 * (a release repository and a SNAPSHOT). Through a group, the kernel passes the write to the
 * next hosted member that may hold the name instead of answering with it.
 */
export class RepositoryPolicyError extends RegistryError {
  constructor(message: string) {
    super('REPOSITORY_POLICY', message, 400);
  }
}
