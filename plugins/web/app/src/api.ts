/** The host's JSON APIs (`/-/api/...`), with the session's CSRF token on writes. */

let csrf: string | undefined;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (init.body !== undefined) headers['Content-Type'] = 'application/json';
  if (init.method && init.method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  // Relative: a path under /-/api/; absolute: the host's other JSON endpoints (/-/admin/...).
  const response = await fetch(path.startsWith('/') ? path : `/-/api/${path}`, {
    method: init.method ?? 'GET',
    headers,
    credentials: 'same-origin',
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const value = (await response.json().catch(() => ({}))) as T & { error?: string };
  if (!response.ok) throw new ApiError(response.status, value.error ?? `${response.status} ${response.statusText}`);
  return value;
}

export interface Session {
  user: string | null;
  roles: string[];
  admin: boolean;
  csrfToken?: string;
}

export function useSessionToken(session: Session): void {
  csrf = session.csrfToken;
}

export interface Repository {
  name: string;
  format: string;
  type: 'hosted' | 'proxy' | 'group';
  url: string;
  takesWrites: boolean;
  members?: string[];
  upstream?: string;
  upstreamHealth?: { state: string; hits: number; misses: number; stale: number; upstreamErrors: number };
  size: { bytes: number; files: number };
  packages: number;
  clientConfig?: string[];
}

export interface PackageSummary {
  repository: string;
  format: string;
  name: string;
  displayName?: string;
  version: string;
  description: string;
  updatedAt: string;
}

export interface PackagePage {
  total: number;
  offset: number;
  limit: number;
  items: PackageSummary[];
}

export interface PackageDetails {
  repository: string;
  heldBy: string;
  format: string;
  name: string;
  displayName?: string;
  version: string;
  versions: { version: string; updatedAt: string }[];
  description: string;
  readme?: string;
  dependencies: { name: string; range: string; kind: string }[];
  tags: Record<string, string>;
  facts: Record<string, string>;
  files: { name: string; path: string; url: string; size: number; digests: Record<string, string> }[];
  install: string[];
  clientConfig: string[];
  /** The last 30 days (`null`: this registry counts no downloads). */
  downloads: null | PackageDownloads;
}

export interface PackageDownloads {
  since: string;
  downloads: number;
  days: { day: string; downloads: number }[];
  versions: { version: string; downloads: number }[];
}

export interface TokenInfo {
  id: string;
  prefix: string;
  readOnly: boolean;
  createdAt: string;
  expiresAt?: string;
  lastUsedAt?: string;
  description?: string;
  repositories?: string[];
  packages?: string[];
}
