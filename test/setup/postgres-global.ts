// Global setup of the `e2e-postgres` project: one PostgreSQL for the run; every registry
// the tests of this project start gets its own database on it (see startRegistry).
import { startPostgres, type TestPostgres } from '@registry-core/testing';
import type { TestProject } from 'vitest/node';

let postgres: TestPostgres | undefined;

export async function setup(project: TestProject): Promise<void> {
  postgres = await startPostgres();
  // Provided to this project's tests only (other projects keep SQLite).
  project.provide('postgresUrl', postgres.url);
}

export async function teardown(): Promise<void> {
  await postgres?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl?: string;
  }
}
