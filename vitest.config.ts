import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['core/**/src/**/*.test.ts', 'plugins/**/src/**/*.test.ts', 'storage-drivers/**/src/**/*.test.ts', 'cli/src/**/*.test.ts'],
          setupFiles: ['./test/setup/reflect-metadata.ts'],
          testTimeout: 60_000,
          // Hooks start test hosts (a kernel on SQLite and the fs driver): on a loaded 2-core
          // machine that takes longer than vitest's 10 s default.
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/**/*.test.ts'],
          setupFiles: ['./test/setup/reflect-metadata.ts'],
          testTimeout: 240_000,
          hookTimeout: 240_000,
          // Real clients and servers: one file at a time keeps the 2-core machine responsive.
          fileParallelism: false,
        },
      },
      {
        test: {
          // The npm, OCI and Maven suites again, with every registry on PostgreSQL instead of
          // SQLite (OCI lists assets by path prefix and locks per image: both differ by engine).
          name: 'e2e-postgres',
          include: ['test/npm/npm-clients.test.ts', 'test/oci/oci-spec.test.ts', 'test/oci/oci-clients.test.ts', 'test/maven/maven-clients.test.ts', 'test/maven/maven-bad-input.test.ts'],
          setupFiles: ['./test/setup/reflect-metadata.ts'],
          globalSetup: ['./test/setup/postgres-global.ts'],
          testTimeout: 240_000,
          hookTimeout: 240_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
