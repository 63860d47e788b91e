// Loaded with NODE_OPTIONS=--import=… by secrets-lazy-load.test.ts: prints, at exit, which of the built-ins that
// compiling the embedded Kubernetes client needs (node:vm, node:zlib) or that it loads (node:http, node:https)
// this process loaded.
process.on('exit', () => {
  const loaded = process.moduleLoadList.filter((m) => /^NativeModule (https?|vm|zlib)$/.test(m)).map((m) => m.slice('NativeModule '.length))
  process.stderr.write(`dbhook-lazy-probe ${JSON.stringify(loaded.sort())}\n`)
})
