const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** Parses `30`, `30s`, `1.5m`, `500ms` or `1h` into milliseconds; undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim())
  if (!match) return undefined
  const ms = Number(match[1]) * units[match[2] ?? 's']!
  return Number.isFinite(ms) ? Math.round(ms) : undefined
}
