import { resolvePlugin } from './plugin-resolver.js';
import type { PluginHost } from './plugin-host.js';

/**
 * Add to `plugins` the installed first-party packages (`discovered`) that offer a storage
 * driver, format or auth provider the config uses but no listed plugin offers, and a web app
 * when the web interface is on and no listed plugin offers one.
 */
export function addImplicitPlugins(
  plugins: PluginHost,
  discovered: readonly string[],
  configDir: string,
  searchDirs: readonly string[],
  used: { formats: Set<string>; storageDrivers: Set<string>; authProviders: Set<string>; webApps?: boolean },
): void {
  // The web interface, when it is on and an installed first-party plugin offers one.
  if (used.webApps && plugins.offered('webApps').size === 0) {
    for (const name of discovered) {
      try {
        const block = resolvePlugin(name, configDir, searchDirs).packageJson['registryCore'] as { contributes?: { webApps?: unknown[] } } | undefined;
        if ((block?.contributes?.webApps ?? []).length > 0) {
          plugins.inspect([{ name, options: {} }], true);
          break;
        }
      } catch {
        // unreadable: skip
      }
    }
  }
  const points = [
    ['formats', used.formats],
    ['storageDrivers', used.storageDrivers],
    ['authProviders', used.authProviders],
  ] as const;
  for (const [point, ids] of points) {
    const offered = plugins.offered(point);
    for (const id of ids) {
      if (offered.has(id)) continue;
      for (const name of discovered) {
        try {
          const resolved = resolvePlugin(name, configDir, searchDirs);
          const block = resolved.packageJson['registryCore'] as { contributes?: Record<string, { id: string }[]> } | undefined;
          if (block?.contributes?.[point]?.some((c) => c.id === id)) {
            plugins.inspect([{ name, options: {} }], true);
            break;
          }
        } catch {
          // unreadable: skip
        }
      }
    }
  }
}
