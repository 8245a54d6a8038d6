import { DELETE_DOCUMENT, type DocumentStore, type DocumentUpdateOptions, type StoredDocument } from '@registry-core/api';
import type { DocumentRow } from '../metadata/entities.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import { pendingToken } from './asset-store.js';
import { crashPoint } from './crash-points.js';

/** JSON documents of one repository, changed by serialised read-modify-write. */
export class RepositoryDocumentStore implements DocumentStore {
  constructor(
    private readonly repository: string,
    private readonly metadata: MetadataStore,
  ) {}

  async get<T>(key: string): Promise<StoredDocument<T> | undefined> {
    const row = await this.metadata.getDocument(this.repository, key);
    return row ? toStored<T>(row) : undefined;
  }

  async update<T>(
    key: string,
    change: (current: T | undefined) => T | typeof DELETE_DOCUMENT | Promise<T | typeof DELETE_DOCUMENT>,
    options: DocumentUpdateOptions = {},
  ): Promise<StoredDocument<T> | undefined> {
    const publish = (options.publish ?? []).map((asset) => {
      const token = pendingToken(asset, this.repository);
      if (!token) throw new Error(`${asset.path} is not a pending asset of ${this.repository}: publish only what a pending put of this repository resolved`);
      return { path: asset.path, token };
    });
    const row = await this.metadata.updateDocument(this.repository, key, async (current) => {
      const value = current ? (JSON.parse(current.value) as T) : undefined;
      const next = await change(value);
      if (next === DELETE_DOCUMENT) return current ? null : undefined;
      const text = JSON.stringify(next);
      return current && current.value === text ? undefined : text;
    }, publish);
    crashPoint('document.written');
    return row ? toStored<T>(row) : undefined;
  }

  async delete(key: string): Promise<boolean> {
    const deleted = await this.metadata.deleteDocument(this.repository, key);
    crashPoint('document.written');
    return deleted;
  }
}

function toStored<T>(row: DocumentRow): StoredDocument<T> {
  return { value: JSON.parse(row.value) as T, revision: row.revision, updatedAt: new Date(row.updatedAt) };
}
