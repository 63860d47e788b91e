import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration files start their own servers; two cores run two files at a time well.
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Stops the Kubernetes test cluster when this run started it (test/kubernetes/cluster.ts starts it on demand);
    // `cluster.sh down` takes longer than the default 10 s close timeout.
    globalSetup: ['test/kubernetes/global-setup.ts'],
    teardownTimeout: 300_000,
    reporters: ['default', 'json'],
    outputFile: { json: '.cache/vitest-results.json' },
  },
})
