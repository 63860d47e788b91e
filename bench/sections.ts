/**
 * A section of docs/benchmarks.md that a bench other than run.ts writes (bench/kubernetes.ts needs a cluster and
 * runs on its own), between two markers; run.ts keeps it when it rewrites the file.
 */
export interface Section {
  readonly start: string
  readonly end: string
}

export const kubernetesSection: Section = { start: '<!-- bench/kubernetes.ts: start -->', end: '<!-- bench/kubernetes.ts: end -->' }

/** The section with its markers, or undefined when `text` holds none. */
export function extractSection(text: string, section: Section): string | undefined {
  const start = text.indexOf(section.start)
  const end = text.indexOf(section.end, start)
  return start >= 0 && end >= 0 ? text.slice(start, end + section.end.length) : undefined
}

/** `text` with the section replaced by `content` (markers included), or with `content` appended. */
export function replaceSection(text: string, section: Section, content: string): string {
  const current = extractSection(text, section)
  const body = current ? text.replace(current, () => content) : `${text.trimEnd()}${text.trim() ? '\n\n' : ''}${content}`
  return `${body.trimEnd()}\n`
}
