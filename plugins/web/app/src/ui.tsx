import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

export function navigate(query: Record<string, string | undefined>): void {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, v);
  const search = params.toString();
  history.pushState(null, '', `${location.pathname}${search ? `?${search}` : ''}`);
  dispatchEvent(new PopStateEvent('popstate'));
}

export function href(query: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, v);
  const search = params.toString();
  return `${location.pathname}${search ? `?${search}` : ''}`;
}

/** A link inside the app: no reload. */
export function Link(props: { to: Record<string, string | undefined>; children: ComponentChildren; class?: string }) {
  return (
    <a
      href={href(props.to)}
      class={props.class}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
        e.preventDefault();
        navigate(props.to);
      }}
    >
      {props.children}
    </a>
  );
}

/**
 * Load something for the given deps. The answer is tied to the deps it was loaded for: when
 * they change (a filter applied), the render that follows already says "loading" rather than
 * showing the previous answer until the effect (run after paint) starts the new load. That
 * previous answer, shown as if it were the new one and then replaced by "Loading…", looked
 * like a second load of the same list.
 */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { value?: T; error?: string; reload: () => void } {
  const [round, setRound] = useState(0);
  const key = JSON.stringify([...deps, round]);
  const [state, setState] = useState<{ key?: string; value?: T; error?: string }>({});
  useEffect(() => {
    let live = true;
    load().then(
      (value) => live && setState({ key, value }),
      (error: unknown) => live && setState({ key, error: error instanceof Error ? error.message : String(error) }),
    );
    return () => {
      live = false;
    };
  }, [key]);
  const current = state.key === key ? state : {};
  return { ...(current.value !== undefined ? { value: current.value } : {}), ...(current.error !== undefined ? { error: current.error } : {}), reload: () => setRound((r) => r + 1) };
}

export function bytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

export function CopyButton(props: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      class="copy"
      onClick={async () => {
        await navigator.clipboard.writeText(props.text);
        setDone(true);
        setTimeout(() => setDone(false), 1500);
      }}
    >
      {done ? 'Copied' : 'Copy'}
      <span class="visually-hidden"> {props.label}</span>
    </button>
  );
}

/** Lines to copy, one block. */
export function CodeLines(props: { lines: string[]; label: string }) {
  if (props.lines.length === 0) return <p class="muted">This format gives no lines here.</p>;
  const text = props.lines.join('\n');
  return (
    <div class="code">
      <pre tabIndex={0} aria-label={props.label}>
        <code>{text}</code>
      </pre>
      <CopyButton text={text} label={props.label} />
    </div>
  );
}

/** A table that scrolls sideways on a narrow screen: column headers, then the rows given. */
export function Table(props: { columns: string[]; caption?: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap">
      <table>
        {props.caption && <caption class="visually-hidden">{props.caption}</caption>}
        <thead>
          <tr>
            {props.columns.map((c) => (
              <th scope="col" key={c}>
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}

export function Status(props: { error?: string; loading: boolean }) {
  if (props.error) return <p role="alert" class="error">{props.error}</p>;
  if (props.loading) return <p class="muted" aria-live="polite">Loading…</p>;
  return null;
}

