/**
 * Expand `${VAR}` and `${VAR:-default}` in every string of a parsed config. A `${VAR}`
 * with no value and no default is an error naming the variable and the key.
 */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv, path = '', errors: string[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_match, name: string, fallback?: string) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      errors.push(`${path || '(root)'}: environment variable ${name} is not set and has no default`);
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, `${path}[${i}]`, errors));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = expandEnv(v, env, path ? `${path}.${k}` : k, errors);
    return out;
  }
  return value;
}
