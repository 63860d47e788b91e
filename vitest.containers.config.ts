import { defineConfig } from 'vitest/config'

// `npm run test:containers`: MySQL 8.4, MariaDB 11 and the Cloud Spanner emulator in containers (testcontainers).
// The files end in `.containers.ts` so that `npm test` (test/**/*.test.ts) never picks them up; where no container
// engine is available they fail, never skip.
export default defineConfig({
  test: {
    include: ['test/containers/**/*.containers.ts'],
    maxWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 600_000,
  },
})
