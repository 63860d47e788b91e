#!/usr/bin/env node
// helm --post-renderer for the test cluster only (see podApiRoute in secrets-cluster.ts): points every pod that
// mounts the projected API token at the forwarder on the bridge address, under the name the API server's
// certificate holds. Usage: secrets-api-route.mjs HOST PORT < manifests > manifests
import { readFileSync } from 'node:fs'
import { parseAllDocuments, stringify } from 'yaml'

const [host, port] = process.argv.slice(2)
const docs = parseAllDocuments(readFileSync(0, 'utf8')).map((d) => d.toJS()).filter((d) => d)
for (const doc of docs) {
  const spec = doc.kind === 'Job' ? doc.spec.template.spec : undefined
  if (!spec?.volumes?.some((v) => v.name === 'kube-api-access')) continue
  spec.hostAliases = [{ ip: host, hostnames: ['kubernetes.default.svc'] }]
  for (const container of spec.containers) {
    container.env = [...(container.env ?? []), { name: 'KUBERNETES_SERVICE_HOST', value: 'kubernetes.default.svc' }, { name: 'KUBERNETES_SERVICE_PORT', value: port }]
  }
}
process.stdout.write(docs.map((d) => stringify(d)).join('---\n'))
