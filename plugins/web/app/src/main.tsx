import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Admin } from './admin.js';
import { CodeLines, Link, Status, Table, bytes, navigate, useLoad } from './ui.js';
import { ApiError, api, useSessionToken, type PackageDetails, type PackageDownloads, type PackagePage, type Repository, type Session, type TokenInfo } from './api.js';
import { renderMarkdown } from './markdown.js';
import './styles.css';

/** Pages are addressed by query parameters at the page's own URL (`?q=`, `?repo=`, `?repo=&pkg=`, `?setup=`, `?view=`). */
type Route = URLSearchParams;

function Repositories() {
  const { value, error } = useLoad(() => api<{ repositories: Repository[] }>('repositories'), []);
  return (
    <section>
      <h1>Repositories</h1>
      <Status error={error} loading={!value} />
      {value && (
        <Table columns={['Name', 'Format', 'Type', 'Members / upstream', 'Packages', 'Size', 'Set up']} caption="Repositories you can read">
              {value.repositories.map((r) => (
                <tr key={r.name}>
                  <td>
                    <Link to={{ repo: r.name }}>{r.name}</Link>
                  </td>
                  <td>{r.format}</td>
                  <td>{r.type}</td>
                  <td>
                    {r.members?.join(', ')}
                    {r.upstream && (
                      <span>
                        {r.upstream}{' '}
                        {r.upstreamHealth && <span class={`badge ${r.upstreamHealth.state}`}>upstream {r.upstreamHealth.state === 'closed' ? 'healthy' : r.upstreamHealth.state}</span>}
                      </span>
                    )}
                  </td>
                  <td>{r.packages}</td>
                  <td>
                    {bytes(r.size.bytes)} ({r.size.files} files)
                  </td>
                  <td>
                    <Link to={{ setup: r.name }}>Set me up</Link>
                  </td>
                </tr>
              ))}
            </Table>
      )}
    </section>
  );
}

function PackageList(props: { page: PackagePage; showRepository: boolean; via?: string }) {
  if (props.page.items.length === 0) return <p>No packages found.</p>;
  return (
    <ul class="packages">
      {props.page.items.map((p) => (
        <li key={`${p.repository}/${p.name}`}>
          <Link to={{ repo: props.via ?? p.repository, pkg: p.name }} class="name">
            {p.displayName ?? p.name}
          </Link>{' '}
          <span class="version">{p.version}</span>
          {props.showRepository && (
            <span class="muted">
              {' '}
              in {p.repository} ({p.format})
            </span>
          )}
          {p.description && <p>{p.description}</p>}
        </li>
      ))}
    </ul>
  );
}

function Pager(props: { page: PackagePage; go: (offset: number) => void }) {
  const { total, offset, limit } = props.page;
  if (total <= limit && offset === 0) return null;
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={offset === 0} onClick={() => props.go(Math.max(0, offset - limit))}>
        Previous
      </button>
      <span>
        {offset + 1}–{Math.min(offset + limit, total)} of {total}
      </span>
      <button type="button" disabled={offset + limit >= total} onClick={() => props.go(offset + limit)}>
        Next
      </button>
    </nav>
  );
}

function RepositoryPackages(props: { name: string; filter: string; offset: number }) {
  const { name, filter, offset } = props;
  const repo = useLoad(() => api<Repository>(`repositories/${encodeURIComponent(name)}`), [name]);
  const list = useLoad(() => api<PackagePage>(`repositories/${encodeURIComponent(name)}/packages?q=${encodeURIComponent(filter)}&offset=${offset}&limit=20`), [name, filter, offset]);
  const [text, setText] = useState(filter);
  return (
    <section>
      <h1>{name}</h1>
      {repo.value && (
        <p class="muted">
          {repo.value.format} {repo.value.type} · {repo.value.url} · <Link to={{ setup: name }}>Set me up</Link>
        </p>
      )}
      <form
        class="filter"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          navigate({ repo: name, filter: text });
        }}
      >
        <label for="filter">Filter packages</label>
        <input id="filter" type="search" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
        <button type="submit">Filter</button>
      </form>
      <Status error={list.error ?? repo.error} loading={!list.value} />
      {list.value && (
        <>
          <PackageList page={list.value} showRepository={repo.value?.type === 'group'} via={name} />
          <Pager page={list.value} go={(o) => navigate({ repo: name, filter, offset: String(o) })} />
        </>
      )}
    </section>
  );
}

function PackagePageView(props: { repo: string; name: string; version?: string }) {
  const { repo, name, version } = props;
  const { value, error } = useLoad(
    () => api<PackageDetails>(`repositories/${encodeURIComponent(repo)}/packages/${encodeURIComponent(name)}${version ? `?version=${encodeURIComponent(version)}` : ''}`),
    [repo, name, version],
  );
  if (!value) return <Status error={error} loading={!error} />;
  const tags = Object.entries(value.tags);
  return (
    <article>
      <p class="crumbs">
        <Link to={{}}>Repositories</Link> / <Link to={{ repo }}>{repo}</Link>
      </p>
      <h1>
        {value.displayName ?? value.name} <span class="version">{value.version}</span>
      </h1>
      {value.description && <p class="lead">{value.description}</p>}
      <div class="columns">
        <div class="main-col">
          <h2>Install</h2>
          <CodeLines lines={value.install} label="install line" />
          <h2>README</h2>
          {value.readme ? <div class="readme" dangerouslySetInnerHTML={{ __html: renderMarkdown(value.readme) }} /> : <p class="muted">No README.</p>}
        </div>
        <aside class="side-col" aria-label="Package facts">
          {tags.length > 0 && (
            <>
              <h2>Tags</h2>
              <ul class="plain">
                {tags.map(([tag, v]) => (
                  <li key={tag}>
                    {tag}: <Link to={{ repo, pkg: name, v }}>{v}</Link>
                  </li>
                ))}
              </ul>
            </>
          )}
          <h2>Versions</h2>
          <ul class="plain versions">
            {value.versions.map((v) => (
              <li key={v.version}>
                <Link to={{ repo, pkg: name, v: v.version }}>{v.version}</Link> <span class="muted">{v.updatedAt.slice(0, 10)}</span>
              </li>
            ))}
          </ul>
          <h2>Dependencies</h2>
          {value.dependencies.length === 0 ? (
            <p class="muted">None listed.</p>
          ) : (
            <ul class="plain">
              {value.dependencies.map((d) => (
                <li key={`${d.kind}:${d.name}`}>
                  {d.name} <code>{d.range}</code> {d.kind !== 'runtime' && <span class="muted">({d.kind})</span>}
                </li>
              ))}
            </ul>
          )}
          {Object.keys(value.facts).length > 0 && (
            <>
              <h2>About</h2>
              <dl>
                {Object.entries(value.facts).map(([k, v]) => (
                  <>
                    <dt key={`t${k}`}>{k}</dt>
                    <dd key={`d${k}`}>{v}</dd>
                  </>
                ))}
              </dl>
            </>
          )}
          <h2>Downloads</h2>
          <DownloadChart downloads={value.downloads} />
        </aside>
      </div>
      <h2>Files</h2>
      {value.files.length === 0 ? (
        <p class="muted">No files listed.</p>
      ) : (
        <Table columns={['File', 'Size', 'sha256']}>
              {value.files.map((f) => (
                <tr key={f.path}>
                  <td>
                    <a href={f.url}>{f.name}</a>
                  </td>
                  <td>{bytes(f.size)}</td>
                  <td>
                    <code class="digest">{f.digests['sha256']}</code>
                  </td>
                </tr>
              ))}
            </Table>
      )}
    </article>
  );
}

function Search(props: { q: string; offset: number }) {
  const { value, error } = useLoad(() => api<PackagePage>(`search?q=${encodeURIComponent(props.q)}&offset=${props.offset}&limit=20`), [props.q, props.offset]);
  return (
    <section>
      <h1>Search: {props.q}</h1>
      <Status error={error} loading={!value} />
      {value && (
        <>
          <p class="muted">{value.total} found</p>
          <PackageList page={value} showRepository />
          <Pager page={value} go={(o) => navigate({ q: props.q, offset: String(o) })} />
        </>
      )}
    </section>
  );
}

function SetMeUp(props: { name: string }) {
  const { value, error } = useLoad(() => api<Repository>(`repositories/${encodeURIComponent(props.name)}`), [props.name]);
  return (
    <section>
      <h1>Set me up: {props.name}</h1>
      <Status error={error} loading={!value} />
      {value && (
        <>
          <p>
            {value.format} {value.type} repository at <code>{value.url}</code>
          </p>
          <h2>URL</h2>
          <CodeLines lines={[value.url]} label="repository URL" />
          <h2>Client configuration</h2>
          <CodeLines lines={value.clientConfig ?? []} label="client configuration" />
          <p class="muted">
            Or write it into the client's configuration file: <code>registry-core setup {value.name}</code>
          </p>
        </>
      )}
    </section>
  );
}

function SignIn(props: { onSession: (s: Session) => void }) {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [token, setToken] = useState('');
  const [error, setError] = useState<string>();
  const submit = async (body: unknown) => {
    setError(undefined);
    try {
      props.onSession(await api<Session>('session', { method: 'POST', body }));
      navigate({});
    } catch (e) {
      setError(e instanceof ApiError && e.status === 401 ? 'Wrong user name, password or token.' : (e as Error).message);
    }
  };
  return (
    <section class="narrow">
      <h1>Sign in</h1>
      {error && <p role="alert" class="error">{error}</p>}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit({ user, password });
        }}
      >
        <label for="user">User name</label>
        <input id="user" autocomplete="username" value={user} onInput={(e) => setUser((e.target as HTMLInputElement).value)} required />
        <label for="password">Password</label>
        <input id="password" type="password" autocomplete="current-password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} required />
        <button type="submit">Sign in</button>
      </form>
      <h2>Or with a token</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit({ token });
        }}
      >
        <label for="token">Token</label>
        <input id="token" type="password" autocomplete="off" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} required />
        <button type="submit">Sign in with token</button>
      </form>
    </section>
  );
}

function Tokens() {
  const list = useLoad(() => api<{ tokens: TokenInfo[] }>('tokens'), []);
  const [description, setDescription] = useState('');
  const [days, setDays] = useState('30');
  const [readOnly, setReadOnly] = useState(false);
  const [repositories, setRepositories] = useState('');
  const [created, setCreated] = useState<string>();
  const [error, setError] = useState<string>();
  const create = async () => {
    setError(undefined);
    try {
      const scope = repositories
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const result = await api<{ token: string }>('tokens', {
        method: 'POST',
        body: { description: description || undefined, expiresInDays: Number(days), readOnly, ...(scope.length ? { repositories: scope } : {}) },
      });
      setCreated(result.token);
      list.reload();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <section>
      <h1>Tokens</h1>
      {error && <p role="alert" class="error">{error}</p>}
      {created && (
        <div class="notice" role="status">
          <p>Your new token. It is shown only this once: copy it now.</p>
          <CodeLines lines={[created]} label="new token" />
          <button type="button" onClick={() => setCreated(undefined)}>
            Done
          </button>
        </div>
      )}
      <form
        class="grid-form"
        onSubmit={(e) => {
          e.preventDefault();
          void create();
        }}
      >
        <label for="tdesc">Description</label>
        <input id="tdesc" value={description} onInput={(e) => setDescription((e.target as HTMLInputElement).value)} />
        <label for="tdays">Expires in (days)</label>
        <input id="tdays" type="number" min="1" max="3650" value={days} onInput={(e) => setDays((e.target as HTMLInputElement).value)} />
        <label for="trepos">Repositories (comma-separated globs; empty: all)</label>
        <input id="trepos" value={repositories} onInput={(e) => setRepositories((e.target as HTMLInputElement).value)} />
        <label class="check">
          <input type="checkbox" checked={readOnly} onChange={(e) => setReadOnly((e.target as HTMLInputElement).checked)} /> Read-only
        </label>
        <button type="submit">Create token</button>
      </form>
      <h2>Your tokens</h2>
      <Status error={list.error} loading={!list.value} />
      {list.value && list.value.tokens.length === 0 && <p>No tokens.</p>}
      {list.value && list.value.tokens.length > 0 && (
        <Table columns={['Token', 'Description', 'Scope', 'Expires', 'Last used', 'Revoke']}>
              {list.value.tokens.map((t) => (
                <tr key={t.id}>
                  <td>
                    <code>{t.prefix}…</code>
                  </td>
                  <td>{t.description ?? ''}</td>
                  <td>
                    {t.readOnly ? 'read-only' : 'read-write'}
                    {t.repositories ? ` · ${t.repositories.join(', ')}` : ''}
                  </td>
                  <td>{t.expiresAt ? t.expiresAt.slice(0, 10) : 'never'}</td>
                  <td>{t.lastUsedAt ? t.lastUsedAt.slice(0, 10) : 'never'}</td>
                  <td>
                    <button
                      type="button"
                      aria-label={`Revoke token ${t.prefix}${t.description ? ` (${t.description})` : ''}`}
                      onClick={async () => {
                        await api(`tokens/${encodeURIComponent(t.id)}`, { method: 'DELETE' }).catch((e: Error) => setError(e.message));
                        list.reload();
                      }}
                    >
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </Table>
      )}
    </section>
  );
}

function App() {
  const [route, setRoute] = useState<Route>(new URLSearchParams(location.search));
  const [session, setSession] = useState<Session>({ user: null, roles: [], admin: false });
  const [q, setQ] = useState(route.get('q') ?? '');
  useEffect(() => {
    const update = () => {
      const next = new URLSearchParams(location.search);
      setRoute(next);
      setQ(next.get('q') ?? '');
      document.getElementById('main')?.focus();
    };
    addEventListener('popstate', update);
    return () => removeEventListener('popstate', update);
  }, []);
  const changeSession = (s: Session) => {
    useSessionToken(s);
    setSession(s);
  };
  useEffect(() => {
    api<Session>('session').then(changeSession, () => undefined);
  }, []);
  const offset = Number(route.get('offset') ?? '0') || 0;
  let page;
  if (route.get('q')) page = <Search q={route.get('q')!} offset={offset} />;
  else if (route.get('setup')) page = <SetMeUp name={route.get('setup')!} />;
  else if (route.get('repo') && route.get('pkg')) page = <PackagePageView repo={route.get('repo')!} name={route.get('pkg')!} version={route.get('v') ?? undefined} />;
  else if (route.get('repo')) page = <RepositoryPackages key={route.get('repo')} name={route.get('repo')!} filter={route.get('filter') ?? ''} offset={offset} />;
  else if (route.get('view') === 'signin') page = <SignIn onSession={changeSession} />;
  else if (route.get('view') === 'tokens') page = session.user ? <Tokens /> : <SignIn onSession={changeSession} />;
  else if (route.get('view') === 'admin') page = session.admin ? <Admin self={session.user} /> : <SignIn onSession={changeSession} />;
  else page = <Repositories />;
  const key = `${route.toString()}#${session.user ?? ""}`;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <Link to={{}} class="brand">
          registry-core
        </Link>
        <form
          role="search"
          class="search"
          onSubmit={(e) => {
            e.preventDefault();
            if (q.trim()) navigate({ q: q.trim() });
          }}
        >
          <label for="q" class="visually-hidden">
            Search packages
          </label>
          <input id="q" type="search" placeholder="Search packages" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
          <button type="submit">Search</button>
        </form>
        <nav aria-label="Account">
          {session.user ? (
            <>
              <Link to={{ view: 'tokens' }}>Tokens</Link>
              {session.admin && <Link to={{ view: 'admin' }}>Admin</Link>}
              <span class="user">{session.user}</span>
              <button
                type="button"
                onClick={async () => {
                  await api('session', { method: 'DELETE' }).catch(() => undefined);
                  changeSession({ user: null, roles: [], admin: false });
                  navigate({});
                }}
              >
                Sign out
              </button>
            </>
          ) : (
            <Link to={{ view: 'signin' }}>Sign in</Link>
          )}
        </nav>
      </header>
      <main id="main" tabIndex={-1} key={key}>
        {page}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);

/** The last 30 days of a package's downloads: a bar per day (an SVG, no script), the total, the top versions. */
function DownloadChart({ downloads }: { downloads: PackageDownloads | null }) {
  if (!downloads) return <p class="muted">This registry counts no downloads.</p>;
  if (downloads.downloads === 0) return <p class="muted">No downloads in the last 30 days.</p>;
  const days = downloads.days;
  const most = Math.max(1, ...days.map((d) => d.downloads));
  const width = 300;
  const height = 60;
  const bar = width / Math.max(1, days.length);
  const first = days[0]?.day ?? downloads.since;
  const last = days[days.length - 1]?.day ?? downloads.since;
  const total = `${downloads.downloads.toLocaleString('en-US')} download${downloads.downloads === 1 ? '' : 's'}`;
  return (
    <figure class="downloads">
      <svg viewBox={`0 0 ${width} ${height}`} width="100%" height={height} role="img" aria-label={`${total} from ${first} to ${last}`}>
        {days.map((d, i) => {
          const h = d.downloads === 0 ? 0 : Math.max(1, (d.downloads / most) * (height - 2));
          return (
            <rect key={d.day} x={i * bar + 1} y={height - h} width={Math.max(1, bar - 2)} height={h} class="bar">
              <title>{`${d.day}: ${d.downloads}`}</title>
            </rect>
          );
        })}
      </svg>
      <figcaption>
        {total} in the last 30 days
        {downloads.versions.length > 0 && <> (most: {downloads.versions.slice(0, 3).map((v) => `${v.version} ${v.downloads.toLocaleString('en-US')}`).join(', ')})</>}
      </figcaption>
    </figure>
  );
}
