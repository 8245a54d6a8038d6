import type { AuditEventRow } from '../metadata/entities.js';
import type { MetadataStore } from '../metadata/metadata-store.js';

/** One thing someone did, as recorded in the audit log. */
export interface AuditEvent {
  /** `publish`, `unpublish`, `tag`, `untag`, `deprecate`, `login`, `token.create`, ... */
  readonly action: string;
  readonly outcome?: 'ok' | 'failed' | 'denied';
  /** Who: a user name, `anonymous`, or `cli` for the command line on the server. */
  readonly principal: string;
  readonly repository?: string;
  readonly package?: string;
  readonly version?: string;
  readonly clientAddress?: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** An {@link AuditEvent} as read back. */
export interface AuditEntry extends AuditEvent {
  readonly id: number;
  readonly at: string;
  readonly outcome: 'ok' | 'failed' | 'denied';
}

export interface AuditQuery {
  /** Epoch milliseconds; entries at or after it. */
  readonly since?: number;
  readonly user?: string;
  readonly repository?: string;
  readonly action?: string;
  /** Most entries, newest first (default 1000). */
  readonly limit?: number;
}

/** Who made a change, for the audit log; the command line on the server when absent. */
export interface AuditActor {
  readonly principal: string;
  readonly clientAddress?: string;
}

/** The `principal` and `clientAddress` of an event made by `actor`. */
export function actorFields(actor: AuditActor | undefined): { principal: string; clientAddress?: string } {
  if (!actor) return { principal: 'cli' };
  return { principal: actor.principal, ...(actor.clientAddress ? { clientAddress: actor.clientAddress } : {}) };
}

/**
 * The audit log in the metadata store: every publish, unpublish, tag change, delete,
 * login, failed login, user and token creation and revocation. Writing never fails the
 * action it records (an error is reported to `onError`); secrets are never part of it.
 */
export class AuditLog {
  constructor(
    private readonly metadata: MetadataStore,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  async record(event: AuditEvent): Promise<void> {
    const row: AuditEventRow = {
      at: Date.now(),
      action: event.action.slice(0, 64),
      outcome: event.outcome ?? 'ok',
      principal: event.principal.slice(0, 128),
      repository: event.repository?.slice(0, 128) ?? null,
      package: event.package?.slice(0, 512) ?? null,
      version: event.version?.slice(0, 256) ?? null,
      clientAddress: event.clientAddress?.slice(0, 64) ?? null,
      details: JSON.stringify(event.details ?? {}),
    };
    try {
      await this.metadata.audit.insert(row);
    } catch (error) {
      this.onError(error);
    }
  }

  async query(filter: AuditQuery = {}): Promise<AuditEntry[]> {
    const q = this.metadata.audit.createQueryBuilder('e').orderBy('e.at', 'DESC').addOrderBy('e.id', 'DESC').limit(Math.min(filter.limit ?? 1000, 100_000));
    if (filter.since !== undefined) q.andWhere('e.at >= :since', { since: filter.since });
    if (filter.user !== undefined) q.andWhere('e.principal = :user', { user: filter.user });
    if (filter.repository !== undefined) q.andWhere('e.repository = :repository', { repository: filter.repository });
    if (filter.action !== undefined) q.andWhere('e.action = :action', { action: filter.action });
    const rows = await q.getMany();
    return rows.map((r) => ({
      id: r.id!,
      at: new Date(r.at).toISOString(),
      action: r.action,
      outcome: r.outcome as AuditEntry['outcome'],
      principal: r.principal,
      ...(r.repository !== null ? { repository: r.repository } : {}),
      ...(r.package !== null ? { package: r.package } : {}),
      ...(r.version !== null ? { version: r.version } : {}),
      ...(r.clientAddress !== null ? { clientAddress: r.clientAddress } : {}),
      details: JSON.parse(r.details) as Record<string, unknown>,
    }));
  }
}

/** `7d`, `12h`, `30m` ago, or a date/time; epoch milliseconds. */
export function parseSince(value: string, now = Date.now()): number | undefined {
  const relative = /^(\d+)\s*([smhd])$/.exec(value.trim());
  if (relative) return now - Number(relative[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 's' | 'm' | 'h' | 'd'];
  const absolute = Date.parse(value);
  return Number.isNaN(absolute) ? undefined : absolute;
}
