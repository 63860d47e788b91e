// Loaded with NODE_OPTIONS=--import=… by the chart's end-to-end test: samples this process's memory and prints
// the peaks on exit. RssAnon is what a memory limit cannot reclaim; RssFile is mostly node's own code, which the
// kernel drops and re-reads under pressure.
import { readFileSync } from 'node:fs'

const peak = { anonKiB: 0, fileKiB: 0, totalKiB: 0 }
function sample() {
  const status = readFileSync('/proc/self/status', 'utf8')
  const field = (name) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0)
  peak.anonKiB = Math.max(peak.anonKiB, field('RssAnon'))
  peak.fileKiB = Math.max(peak.fileKiB, field('RssFile'))
  peak.totalKiB = field('VmHWM')
}
setInterval(sample, 2).unref()
process.on('exit', () => {
  sample()
  process.stderr.write(`dbhook-memory-probe ${JSON.stringify(peak)}\n`)
})
