import type { KeyValueStore } from '@registry-core/api';
import type { MetadataStore } from '../metadata/metadata-store.js';
import { crashPoint } from './crash-points.js';

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

  async set<T>(key: string, value: T): Promise<void> {
    await this.metadata.setValue(this.namespace, key, JSON.stringify(value));
    crashPoint('kv.written');
  }

  async delete(key: string): Promise<boolean> {
    const deleted = await this.metadata.deleteValue(this.namespace, key);
    crashPoint('kv.written');
    return deleted;
  }
}
