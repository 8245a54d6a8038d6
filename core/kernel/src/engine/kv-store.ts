import type { KeyValueStore } from '@registry-core/api';
import type { MetadataStore } from '../metadata/metadata-store.js';

/** A plugin-private key-value store, namespaced by plugin and repository. */
export class NamespacedKeyValueStore implements KeyValueStore {
  constructor(
    private readonly namespace: string,
    private readonly metadata: MetadataStore,
  ) {}

  async get<T>(key: string): Promise<T | undefined> {
    const text = await this.metadata.getValue(this.namespace, key);
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }

  set<T>(key: string, value: T): Promise<void> {
    return this.metadata.setValue(this.namespace, key, JSON.stringify(value));
  }

  delete(key: string): Promise<boolean> {
    return this.metadata.deleteValue(this.namespace, key);
  }
}
