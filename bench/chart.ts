/** One line of the chart: a tool in one case, its median time at each N, with the min–max range as a bar. */
export interface ChartSeries {
  readonly label: string
  readonly color: string
  readonly dashed: boolean
  readonly points: readonly { readonly n: number; readonly median: number; readonly min: number; readonly max: number }[]
}

const width = 720
const height = 440
const plot = { left: 70, right: 200, top: 40, bottom: 60 }

/**
 * A line chart of time (milliseconds, log scale) against the number of databases (log scale), as a standalone
 * SVG document. Both axes are logarithmic because N spans 4 to 256 and times span tens of milliseconds to tens
 * of seconds; a straight line of slope 1 is a tool whose time grows in proportion to N.
 */
export function renderChart(title: string, series: readonly ChartSeries[]): string {
  const points = series.flatMap((s) => s.points)
  if (points.length === 0) throw new Error('a chart needs at least one point')
  const ns = points.map((p) => p.n)
  const nMin = Math.min(...ns)
  const nMax = Math.max(...ns)
  const yLow = 10 ** Math.floor(Math.log10(Math.min(...points.map((p) => p.min))))
  const yHigh = 10 ** Math.ceil(Math.log10(Math.max(...points.map((p) => p.max))))
  const plotWidth = width - plot.left - plot.right
  const plotHeight = height - plot.top - plot.bottom
  const x = (n: number) =>
    nMax === nMin
      ? plot.left + plotWidth / 2
      : plot.left + ((Math.log2(n) - Math.log2(nMin)) / (Math.log2(nMax) - Math.log2(nMin))) * plotWidth
  const y = (ms: number) =>
    yHigh === yLow
      ? plot.top + plotHeight / 2
      : plot.top + plotHeight - ((Math.log10(ms) - Math.log10(yLow)) / (Math.log10(yHigh) - Math.log10(yLow))) * plotHeight
  const round = (value: number) => Math.round(value * 10) / 10

  const parts: string[] = []
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${plot.left}" y="${plot.top - 16}" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  )
  for (let decade = yLow; decade <= yHigh; decade *= 10) {
    const yy = round(y(decade))
    parts.push(
      `<line x1="${plot.left}" y1="${yy}" x2="${plot.left + plotWidth}" y2="${yy}" stroke="#dddddd"/>`,
      `<text x="${plot.left - 8}" y="${yy + 4}" text-anchor="end">${escapeXml(formatTick(decade))}</text>`,
    )
  }
  for (const n of [...new Set(ns)].sort((a, b) => a - b)) {
    const xx = round(x(n))
    parts.push(
      `<line x1="${xx}" y1="${plot.top}" x2="${xx}" y2="${plot.top + plotHeight}" stroke="#eeeeee"/>`,
      `<text x="${xx}" y="${plot.top + plotHeight + 18}" text-anchor="middle">${n}</text>`,
    )
  }
  parts.push(
    `<rect x="${plot.left}" y="${plot.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#444444"/>`,
    `<text x="${plot.left + plotWidth / 2}" y="${height - 18}" text-anchor="middle">databases (N, log scale)</text>`,
    `<text x="18" y="${plot.top + plotHeight / 2}" text-anchor="middle" transform="rotate(-90 18 ${plot.top + plotHeight / 2})">time (log scale)</text>`,
  )
  for (const [index, s] of series.entries()) {
    const sorted = [...s.points].sort((a, b) => a.n - b.n)
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : ''
    const path = sorted.map((p) => `${round(x(p.n))},${round(y(p.median))}`).join(' ')
    parts.push(`<polyline points="${path}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`)
    for (const p of sorted) {
      const xx = round(x(p.n))
      parts.push(
        `<line x1="${xx}" y1="${round(y(p.min))}" x2="${xx}" y2="${round(y(p.max))}" stroke="${s.color}" stroke-width="1"/>`,
        `<circle cx="${xx}" cy="${round(y(p.median))}" r="3.5" fill="${s.color}"/>`,
      )
    }
    const legendY = plot.top + 10 + index * 22
    const legendX = plot.left + plotWidth + 16
    parts.push(
      `<line x1="${legendX}" y1="${legendY}" x2="${legendX + 28}" y2="${legendY}" stroke="${s.color}" stroke-width="2"${dash}/>`,
      `<text x="${legendX + 36}" y="${legendY + 4}">${escapeXml(s.label)}</text>`,
    )
  }
  parts.push('</svg>')
  return `${parts.join('\n')}\n`
}

function formatTick(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${ms / 1000} s`
}

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string)
}
