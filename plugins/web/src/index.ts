import { fileURLToPath } from 'node:url';
import type { PluginContext } from '@registry-core/api';

/** Where the built single-page app lives (`pnpm build` runs Vite into it). */
export const APP_DIRECTORY = fileURLToPath(new URL('./app/', import.meta.url));

/** Register the web app: the host serves its files (see WebAppDefinition in @registry-core/api). */
export function activate(context: PluginContext): void {
  context.subscriptions.push(context.registerWebApp({ id: 'web', directory: APP_DIRECTORY }));
}
