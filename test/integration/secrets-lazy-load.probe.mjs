// Loaded with NODE_OPTIONS=--import=… by secrets-lazy-load.test.ts: prints, at exit, which files of dist/ this
// process loaded, and which of the built-ins that @kubernetes/client-node loads (node:http, node:https).
import { registerHooks } from 'node:module'
import { basename } from 'node:path'
import { fileURLToPath } from 'node:url'

const dist = fileURLToPath(new URL('../../dist/', import.meta.url))
const files = new Set()
registerHooks({
  load(url, context, nextLoad) {
    const path = url.startsWith('file:') ? fileURLToPath(url) : ''
    if (path.startsWith(dist)) files.add(basename(path))
    return nextLoad(url, context)
  },
})
process.on('exit', () => {
  const builtins = process.moduleLoadList.filter((m) => /^NativeModule https?$/.test(m)).map((m) => m.slice('NativeModule '.length))
  process.stderr.write(`dbhook-lazy-probe ${JSON.stringify({ files: [...files].sort(), builtins: builtins.sort() })}\n`)
})
