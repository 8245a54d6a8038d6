/**
 * The version of the plugin contract this package defines. It is the package's own
 * version: plugins declare the range they need in `registryCore.apiVersion` and the
 * host refuses a plugin whose range this version does not satisfy.
 */
export const API_VERSION = '1.0.0';
