/** Summary figures of a set of runs: the median and the range. */
export interface Summary {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly runs: number
}

/** The median (mean of the middle two for an even count). Throws on an empty list: a case without runs is a bug. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values')
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

export function summarize(values: readonly number[]): Summary {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), runs: values.length }
}

/**
 * Ratios of two tools' runs taken pair by pair: run i of `subject` against run i of `baseline`, which ran next to
 * each other, so that a slow moment of the machine weighs on both sides of one ratio.
 */
export function pairedRatios(subject: readonly number[], baseline: readonly number[]): number[] {
  if (subject.length !== baseline.length) throw new Error(`cannot pair ${subject.length} runs with ${baseline.length}`)
  return subject.map((value, index) => value / (baseline[index] as number))
}

/**
 * The order in which `variants` run in round `round`: rotated each round, so that no tool always runs first
 * (right after a drop and checkpoint) or always second.
 */
export function roundOrder<T>(variants: readonly T[], round: number): T[] {
  const shift = round % variants.length
  return [...variants.slice(shift), ...variants.slice(0, shift)]
}

/** Seconds with three significant digits: 0.0123 s, 0.123 s, 1.23 s, 27.1 s. */
export function formatSeconds(ms: number): string {
  const seconds = ms / 1000
  if (seconds >= 100) return `${seconds.toFixed(0)} s`
  return `${Number(seconds.toPrecision(3))} s`
}

/** A ratio as 0.031×, 0.45×, 1.2×. */
export function formatRatio(ratio: number): string {
  return `${Number(ratio.toPrecision(2))}×`
}
