import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{src,extension,fleet,packs,cli,test}/**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // two cores: child-process e2e tests contend for CPU; keep parallelism modest.
    maxWorkers: 2,
    pool: 'forks',
  },
});
