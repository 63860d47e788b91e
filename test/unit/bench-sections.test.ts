import { describe, expect, test } from 'vitest'
import { extractSection, kubernetesSection, replaceSection } from '../../bench/sections.ts'

const { start, end } = kubernetesSection
const section = (body: string) => `${start}\n${body}\n${end}`

describe('the Kubernetes section of docs/benchmarks.md', () => {
  test('is found with its markers, and not in a file without them', () => {
    const text = `# Benchmarks\n\ntable\n\n${section('k8s figures')}\n`
    expect(extractSection(text, kubernetesSection)).toBe(section('k8s figures'))
    expect(extractSection('# Benchmarks\n', kubernetesSection)).toBeUndefined()
  })

  test('a new run replaces the old figures in place and keeps what surrounds them', () => {
    const text = `# Benchmarks\n\n${section('old $& figures')}\n\n## After\n`
    expect(replaceSection(text, kubernetesSection, section('new $1 figures'))).toBe(
      `# Benchmarks\n\n${section('new $1 figures')}\n\n## After\n`,
    )
  })

  test('the first run appends the section', () => {
    expect(replaceSection('# Benchmarks\n\ntable\n', kubernetesSection, section('k8s'))).toBe(
      `# Benchmarks\n\ntable\n\n${section('k8s')}\n`,
    )
    expect(replaceSection('', kubernetesSection, section('k8s'))).toBe(`${section('k8s')}\n`)
  })
})
