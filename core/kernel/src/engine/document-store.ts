import { DELETE_DOCUMENT, type DocumentStore, type StoredDocument } from '@registry-core/api';
import type { DocumentRow } from '../metadata/entities.js';
import type { MetadataStore } from '../metadata/metadata-store.js';

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
  ): Promise<StoredDocument<T> | undefined> {
    const row = await this.metadata.updateDocument(this.repository, key, async (current) => {
      const value = current ? (JSON.parse(current.value) as T) : undefined;
      const next = await change(value);
      if (next === DELETE_DOCUMENT) return current ? null : undefined;
      const text = JSON.stringify(next);
      return current && current.value === text ? undefined : text;
    });
    return row ? toStored<T>(row) : undefined;
  }

  delete(key: string): Promise<boolean> {
    return this.metadata.deleteDocument(this.repository, key);
  }
}

function toStored<T>(row: DocumentRow): StoredDocument<T> {
  return { value: JSON.parse(row.value) as T, revision: row.revision, updatedAt: new Date(row.updatedAt) };
}
