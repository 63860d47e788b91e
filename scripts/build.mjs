// Bundles the CLI into one ESM file, dist/dbhook.mjs: the package's bin and the only file the image ships.
import { build } from 'esbuild'
import { chmod, readFile, rename } from 'node:fs/promises'

const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'))

await build({
  entryPoints: ['src/cli.ts'],
  // Written aside and renamed, so that a process starting meanwhile never reads a half-written file.
  outfile: 'dist/.dbhook.mjs.tmp',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  minify: true,
  legalComments: 'none',
  // pg and mysql2 are CommonJS and call require() for Node built-ins.
  banner: {
    js: "#!/usr/bin/env node\nimport{createRequire as __dbhookRequire}from'node:module';const require=__dbhookRequire(import.meta.url);",
  },
  define: { DBHOOK_VERSION: JSON.stringify(pkg.version) },
  // pg-native is an optional peer of pg that dbhook never uses.
  external: ['pg-native'],
  logLevel: 'warning',
})
await chmod('dist/.dbhook.mjs.tmp', 0o755)
await rename('dist/.dbhook.mjs.tmp', 'dist/dbhook.mjs')
