/**
 * DI tokens the host registers in every plugin's container. They are `Symbol.for` keys,
 * so they match across copies of this package.
 */
export const Tokens = {
  /** The plugin's {@link import('./plugin.js').PluginContext}. */
  PluginContext: Symbol.for('registry-core.PluginContext'),
  /** The plugin's {@link import('./logger.js').Logger}. */
  Logger: Symbol.for('registry-core.Logger'),
} as const;
