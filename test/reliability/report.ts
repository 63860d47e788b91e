import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { join, resolve } from 'node:path'

const repoRoot = resolve(import.meta.dirname, '../..')
const sectionsDir = join(repoRoot, '.cache/reliability')
const reportPath = join(repoRoot, 'docs/reliability.md')
const lockDir = join(sectionsDir, '.lock')

export interface CaseRow {
  readonly name: string
  readonly runs: number
  readonly outcome: string
  readonly figures: string
}

interface Section {
  readonly order: number
  readonly title: string
  readonly server: string
  readonly finishedAt: string
  /** What the section tests and why, when the figures need it; a paragraph under the title. */
  readonly description?: string
  readonly rows: CaseRow[]
}

/**
 * The figures of one test file. Each file writes its own section to .cache/reliability/, then rebuilds
 * docs/reliability.md from every section there under a lock, so that files running in parallel never clobber
 * each other's rows.
 */
export class ReliabilityReport {
  private readonly rows: CaseRow[] = []
  private readonly slug: string
  private readonly title: string
  private readonly order: number
  server = ''
  description = ''

  constructor(slug: string, title: string, order: number) {
    this.slug = slug
    this.title = title
    this.order = order
  }

  /** Runs one case; its row says `pass` with the figures it returned, or `FAILED` with the error. */
  async measure(name: string, body: () => Promise<{ runs: number; figures: string }>): Promise<void> {
    try {
      const { runs, figures } = await body()
      this.rows.push({ name, runs, outcome: 'pass', figures })
    } catch (error) {
      this.rows.push({
        name,
        runs: 0,
        outcome: 'FAILED',
        figures: String((error as Error)?.message ?? error)
          .split('\n')[0]!
          .slice(0, 160),
      })
      throw error
    }
  }

  /** Adds a row that no measured case produced, such as a known bug awaiting its fix. */
  note(row: CaseRow): void {
    this.rows.push(row)
  }

  async write(): Promise<void> {
    if (this.rows.length === 0) return
    await mkdir(sectionsDir, { recursive: true })
    const section: Section = {
      order: this.order,
      title: this.title,
      server: this.server,
      finishedAt: new Date().toISOString(),
      description: this.description || undefined,
      rows: this.rows,
    }
    await writeFile(join(sectionsDir, `${this.slug}.json`), `${JSON.stringify(section, null, 2)}\n`)
    await withLock(async () => {
      const sections: Section[] = []
      for (const file of (await readdir(sectionsDir)).filter((f) => f.endsWith('.json')).sort()) {
        sections.push(JSON.parse(await readFile(join(sectionsDir, file), 'utf8')) as Section)
      }
      sections.sort((a, b) => a.order - b.order || a.title.localeCompare(b.title))
      await mkdir(join(repoRoot, 'docs'), { recursive: true })
      const temporary = `${reportPath}.${process.pid}.tmp`
      await writeFile(temporary, render(sections))
      await rename(temporary, reportPath)
    })
  }
}

async function withLock(body: () => Promise<void>): Promise<void> {
  for (let waited = 0; ; waited += 50) {
    try {
      await mkdir(lockDir)
      break
    } catch {
      if (waited > 10_000) await rm(lockDir, { recursive: true, force: true }) // a crashed writer's lock
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  try {
    await body()
  } finally {
    await rm(lockDir, { recursive: true, force: true })
  }
}

const cell = (text: string | number) => String(text).replace(/\|/g, '\\|').replace(/\n/g, ' ')

function render(sections: Section[]): string {
  const lines = [
    '# Reliability and security figures',
    '',
    'Written by the test run (`test/reliability/*.test.ts`, each file adds its section through',
    '`test/reliability/report.ts`); do not edit by hand. Every case runs the built `dist/dbhook.mjs` against real',
    "servers; faults go through a loopback TCP proxy (`test/support/tcp-proxy.ts`). Every run's stdout, stderr and",
    'termination message is scanned for every password the suite used (`test/support/dbhook.ts`); one occurrence',
    'fails the run.',
    '',
    `Machine of the last run: ${availableParallelism()} cores, Node ${process.version}.`,
    '',
  ]
  for (const section of sections) {
    lines.push(`## ${section.title}`, '', `${section.server ? `${section.server}; ` : ''}finished ${section.finishedAt}.`, '')
    if (section.description) lines.push(section.description, '')
    lines.push('| Case | Runs | Outcome | Figures |', '| --- | ---: | --- | --- |')
    for (const row of section.rows) lines.push(`| ${cell(row.name)} | ${row.runs} | ${cell(row.outcome)} | ${cell(row.figures)} |`)
    lines.push('')
  }
  return `${lines.join('\n').trimEnd()}\n`
}

/** Milliseconds as `1.23 s` or `85 ms`. */
export function ms(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${Math.round(value)} ms`
}

/** The q-quantile (0..1) of `values`. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN
}
