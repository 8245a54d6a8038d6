import { useEffect, useState } from 'preact/hooks';
import { api, type TokenInfo } from './api.js';
import { Status, Table, useLoad } from './ui.js';

interface UserInfo {
  name: string;
  roles: string[];
  email?: string;
  createdAt?: string;
  disabled?: true;
  source: 'config' | 'stored';
}

interface AuditEntry {
  id: number;
  at: string;
  action: string;
  outcome: string;
  principal: string;
  repository?: string;
  package?: string;
  version?: string;
  clientAddress?: string;
  details?: Record<string, unknown>;
}

/** An audit event's details in one line (`user=ana roles=dev`): the scalar ones and lists of them. */
const detailsLine = (details: Record<string, unknown> = {}) =>
  Object.entries(details)
    .filter(([, v]) => ['string', 'number', 'boolean'].includes(typeof v) || (Array.isArray(v) && v.every((x) => typeof x === 'string')))
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`)
    .join(' ');

interface PermissionRule {
  repositories: string[];
  packages?: string[];
  read?: string[];
  write?: string[];
  delete?: string[];
  admin?: string[];
}

interface ProxyStats {
  hits: number;
  misses: number;
  stale: number;
  negativeHits: number;
  upstreamRequests: number;
  upstreamErrors: number;
  breaker: { state: string; consecutiveFailures: number; openUntil?: string };
}

const roles = (text: string) =>
  text
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);

function Users(props: { self: string | null }) {
  const list = useLoad(() => api<{ users: UserInfo[] }>('/-/admin/users'), []);
  const [form, setForm] = useState({ name: '', password: '', roles: '' });
  const [message, setMessage] = useState<{ error?: string; ok?: string }>({});
  const act = async (work: () => Promise<unknown>, ok: string) => {
    setMessage({});
    try {
      await work();
      setMessage({ ok });
      list.reload();
    } catch (e) {
      setMessage({ error: (e as Error).message });
    }
  };
  return (
    <section aria-labelledby="users-heading">
      <h2 id="users-heading">Users</h2>
      {message.error && <p role="alert" class="error">{message.error}</p>}
      {message.ok && <p role="status">{message.ok}</p>}
      <Status error={list.error} loading={!list.value} />
      {list.value && (
        <Table columns={['User', 'Roles', 'Where', 'State', 'Change']}>
              {list.value.users.map((u) => (
                <tr key={u.name}>
                  <td>{u.name}</td>
                  <td>{u.roles.join(', ') || '—'}</td>
                  <td>{u.source === 'config' ? 'config file' : 'stored'}</td>
                  <td>{u.disabled ? 'disabled' : 'active'}</td>
                  <td>
                    {u.source === 'stored' && (
                      <>
                        <button
                          type="button"
                          onClick={() => {
                            const next = prompt(`Roles of ${u.name} (comma-separated)`, u.roles.join(', '));
                            if (next !== null) void act(() => api(`/-/admin/users/${encodeURIComponent(u.name)}/roles`, { method: 'PUT', body: { roles: roles(next) } }), `Roles of ${u.name} changed.`);
                          }}
                        >
                          Roles<span class="visually-hidden"> of {u.name}</span>
                        </button>{' '}
                        <button
                          type="button"
                          onClick={() => {
                            const next = prompt(`New password for ${u.name} (at least 8 characters; their tokens are revoked)`);
                            if (next) void act(() => api(`/-/admin/users/${encodeURIComponent(u.name)}/password`, { method: 'PUT', body: { password: next } }), `Password of ${u.name} set; their tokens are revoked.`);
                          }}
                        >
                          Password<span class="visually-hidden"> of {u.name}</span>
                        </button>
                        {/* An administrator cannot disable themselves (the server refuses it). */}
                        {u.name !== props.self && ' '}
                        {u.name !== props.self && <button
                          type="button"
                          onClick={() =>
                            void act(
                              () => api(`/-/admin/users/${encodeURIComponent(u.name)}/disabled`, { method: 'PUT', body: { disabled: !u.disabled } }),
                              u.disabled ? `User ${u.name} enabled.` : `User ${u.name} disabled: their sign-ins and tokens are refused.`,
                            )
                          }
                        >
                          {u.disabled ? 'Enable' : 'Disable'}
                          <span class="visually-hidden"> {u.name}</span>
                        </button>}
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </Table>
      )}
      <h3>Add a user</h3>
      <form
        class="grid-form"
        onSubmit={(e) => {
          e.preventDefault();
          void act(() => api('/-/admin/users', { method: 'POST', body: { name: form.name, password: form.password, roles: roles(form.roles) } }), `User ${form.name} added.`).then(() => setForm({ name: '', password: '', roles: '' }));
        }}
      >
        <label for="new-user">User name</label>
        <input id="new-user" value={form.name} onInput={(e) => setForm({ ...form, name: (e.target as HTMLInputElement).value })} required />
        <label for="new-password">Password (at least 8 characters)</label>
        <input id="new-password" type="password" autocomplete="new-password" value={form.password} onInput={(e) => setForm({ ...form, password: (e.target as HTMLInputElement).value })} required minLength={8} />
        <label for="new-roles">Roles (comma-separated)</label>
        <input id="new-roles" value={form.roles} onInput={(e) => setForm({ ...form, roles: (e.target as HTMLInputElement).value })} />
        <button type="submit">Add user</button>
      </form>
    </section>
  );
}

function AllTokens() {
  const list = useLoad(() => api<{ tokens: (TokenInfo & { user: string })[] }>('/-/admin/tokens'), []);
  return (
    <section aria-labelledby="tokens-heading">
      <h2 id="tokens-heading">Every user's tokens</h2>
      <Status error={list.error} loading={!list.value} />
      {list.value && (
        <Table columns={['User', 'Token', 'Description', 'Expires', 'Last used', 'Revoke']}>
              {list.value.tokens.map((t) => (
                <tr key={t.id}>
                  <td>{t.user}</td>
                  <td>
                    <code>{t.prefix}…</code>
                  </td>
                  <td>{t.description ?? ''}</td>
                  <td>{t.expiresAt?.slice(0, 10) ?? 'never'}</td>
                  <td>{t.lastUsedAt?.slice(0, 10) ?? 'never'}</td>
                  <td>
                    <button type="button" onClick={() => void api(`/-/admin/tokens/${encodeURIComponent(t.id)}`, { method: 'DELETE' }).then(list.reload, list.reload)}>
                      Revoke<span class="visually-hidden"> token {t.prefix} of {t.user}</span>
                    </button>
                  </td>
                </tr>
              ))}
            </Table>
      )}
    </section>
  );
}

function Permissions() {
  const { value, error } = useLoad(() => api<{ anonymousRead: boolean; allowRegistration: boolean; rules: PermissionRule[]; repositories: { name: string; anonymousRead?: boolean }[] }>('/-/admin/permissions'), []);
  const list = (names?: string[]) => (names && names.length ? names.join(', ') : '—');
  return (
    <section aria-labelledby="permissions-heading">
      <h2 id="permissions-heading">Permission rules</h2>
      <Status error={error} loading={!value} />
      {value && (
        <>
          <p>
            Anonymous read: {value.anonymousRead ? 'yes' : 'no'} · self-registration: {value.allowRegistration ? 'on' : 'off'} · repositories closed to anonymous readers:{' '}
            {value.repositories.filter((r) => r.anonymousRead === false).map((r) => r.name).join(', ') || 'none'}
          </p>
          {value.rules.length === 0 ? (
            <p>No rules: signed-in users read and write, administrators do everything.</p>
          ) : (
            <Table columns={['Repositories', 'Packages', 'Read', 'Write', 'Delete', 'Admin']}>
                  {value.rules.map((r, i) => (
                    <tr key={i}>
                      <td>{list(r.repositories)}</td>
                      <td>{list(r.packages)}</td>
                      <td>{list(r.read)}</td>
                      <td>{list(r.write)}</td>
                      <td>{list(r.delete)}</td>
                      <td>{list(r.admin)}</td>
                    </tr>
                  ))}
                </Table>
          )}
        </>
      )}
    </section>
  );
}

function Audit() {
  const [filters, setFilters] = useState({ since: '7d', user: '', repository: '', action: '' });
  const [applied, setApplied] = useState(filters);
  const query = new URLSearchParams(Object.entries({ ...applied, limit: '200' }).filter(([, v]) => v !== '')).toString();
  const { value, error } = useLoad(() => api<{ events: AuditEntry[] }>(`/-/admin/audit?${query}`), [query]);
  const field = (key: keyof typeof filters, label: string) => (
    <span>
      <label for={`audit-${key}`}>{label}</label>
      <input id={`audit-${key}`} value={filters[key]} onInput={(e) => setFilters({ ...filters, [key]: (e.target as HTMLInputElement).value })} />
    </span>
  );
  return (
    <section aria-labelledby="audit-heading">
      <h2 id="audit-heading">Audit log</h2>
      <form
        class="filter"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(filters);
        }}
      >
        {field('since', 'Since (7d, 12h, a date)')}
        {field('user', 'User')}
        {field('repository', 'Repository')}
        {field('action', 'Action')}
        <button type="submit">Show</button>
      </form>
      <Status error={error} loading={!value} />
      {value && value.events.length === 0 && <p>No events.</p>}
      {value && value.events.length > 0 && (
        <Table columns={['When', 'Action', 'Outcome', 'Who', 'Repository', 'Package', 'Details', 'From']}>
              {value.events.map((e) => (
                <tr key={e.id}>
                  <td>{e.at.replace('T', ' ').slice(0, 19)}</td>
                  <td>{e.action}</td>
                  <td>{e.outcome}</td>
                  <td>{e.principal}</td>
                  <td>{e.repository ?? ''}</td>
                  <td>{e.package ? `${e.package}${e.version ? `@${e.version}` : ''}` : ''}</td>
                  <td>{detailsLine(e.details)}</td>
                  <td>{e.clientAddress ?? ''}</td>
                </tr>
              ))}
            </Table>
      )}
    </section>
  );
}

function Cache() {
  const [stats, setStats] = useState<{ repositories: Record<string, ProxyStats> }>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    fetch('/-/stats', { headers: { Accept: 'application/json' } })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`${r.status}`))))
      .then(setStats, (e: Error) => setError(e.message));
  }, []);
  const proxies = Object.entries(stats?.repositories ?? {});
  return (
    <section aria-labelledby="cache-heading">
      <h2 id="cache-heading">Proxy caches</h2>
      <Status error={error} loading={!stats && !error} />
      {stats && proxies.length === 0 && <p>No proxy repositories.</p>}
      {proxies.length > 0 && (
        <Table columns={['Proxy', 'Hits', 'Misses', 'Stale', 'Negative hits', 'Upstream requests', 'Upstream errors', 'Breaker']}>
              {proxies.map(([name, s]) => (
                <tr key={name}>
                  <td>{name}</td>
                  <td>{s.hits}</td>
                  <td>{s.misses}</td>
                  <td>{s.stale}</td>
                  <td>{s.negativeHits}</td>
                  <td>{s.upstreamRequests}</td>
                  <td>{s.upstreamErrors}</td>
                  <td>
                    {s.breaker.state}
                    {s.breaker.openUntil ? ` until ${s.breaker.openUntil.slice(11, 19)}` : ''}
                  </td>
                </tr>
              ))}
            </Table>
      )}
      <DryRuns />
    </section>
  );
}

/** Dry runs of the cache cleanup and of the formats' upkeep tasks: what would go, nothing changed. */
function DryRuns() {
  const tasks = useLoad(() => api<{ tasks: { format: string; name: string; description: string }[] }>('/-/admin/tasks'), []);
  const [report, setReport] = useState<{ title: string; value?: unknown; error?: string }>();
  const run = async (title: string, path: string) => {
    setReport({ title });
    try {
      setReport({ title, value: await api(path, { method: 'POST' }) });
    } catch (e) {
      setReport({ title, error: (e as Error).message });
    }
  };
  return (
    <>
      <h3>Dry runs</h3>
      <p class="muted">What the cleanup or a task would remove now; nothing is changed. The real runs: the schedule, or the CLI.</p>
      <div class="filter">
        <button type="button" onClick={() => void run('Cache cleanup', '/-/admin/dry-run/cache-clean')}>
          Cache cleanup dry run
        </button>
        {(tasks.value?.tasks ?? []).map((t) => (
          <button type="button" key={`${t.format} ${t.name}`} title={t.description} onClick={() => void run(`${t.format} ${t.name}`, `/-/admin/dry-run/tasks/${encodeURIComponent(t.format)}/${encodeURIComponent(t.name)}`)}>
            {t.format} {t.name} dry run
          </button>
        ))}
      </div>
      {report && (
        <div role="status">
          <h4>{report.title}</h4>
          {report.error ? <p class="error">{report.error}</p> : report.value === undefined ? <p class="muted">Running…</p> : <pre tabIndex={0}>{JSON.stringify(report.value, null, 2)}</pre>}
        </div>
      )}
    </>
  );
}

/** The admin area: users, every token, permission rules, the audit log, proxy caches. */
export function Admin(props: { self: string | null }) {
  return (
    <section>
      <h1>Administration</h1>
      <Users self={props.self} />
      <AllTokens />
      <Permissions />
      <Audit />
      <Cache />
    </section>
  );
}
