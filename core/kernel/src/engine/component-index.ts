import type { Component, ComponentIndex, ComponentSearchResult } from '@registry-core/api';
import type { ComponentRow } from '../metadata/entities.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import { crashPoint } from './crash-points.js';

/** Components (name, version, attributes) of one repository, for search and listings. */
export class RepositoryComponentIndex implements ComponentIndex {
  constructor(
    private readonly repository: string,
    private readonly metadata: MetadataStore,
  ) {}

  async upsert(component: { name: string; version: string; attributes?: Record<string, unknown> }): Promise<void> {
    const attributes = component.attributes ?? {};
    const keywords = Array.isArray(attributes['keywords']) ? (attributes['keywords'] as unknown[]).join(' ') : '';
    const description = typeof attributes['description'] === 'string' ? attributes['description'] : '';
    await this.metadata.upsertComponent({
      repository: this.repository,
      name: component.name,
      version: component.version,
      searchText: `${component.name} ${keywords} ${description}`.toLowerCase().slice(0, 4096),
      attributes: JSON.stringify(attributes),
      updatedAt: Date.now(),
    });
    crashPoint('component.written');
  }

  async remove(name: string, version?: string): Promise<number> {
    const removed = await this.metadata.removeComponents(this.repository, name, version);
    crashPoint('component.written');
    return removed;
  }

  async search(query: { text: string; offset?: number; limit: number }): Promise<ComponentSearchResult> {
    const { total, rows } = await this.metadata.searchComponents(this.repository, query.text, query.offset ?? 0, query.limit);
    return { total, items: rows.map(toComponent) };
  }

  async versions(name: string): Promise<readonly Component[]> {
    return (await this.metadata.componentVersions(this.repository, name)).map(toComponent);
  }
}

function toComponent(row: ComponentRow): Component {
  return {
    name: row.name,
    version: row.version,
    attributes: JSON.parse(row.attributes) as Record<string, unknown>,
    updatedAt: new Date(row.updatedAt),
  };
}
