import { describe, expect, test } from 'vitest'
import { renderChart } from '../../bench/chart.ts'
import { formatRatio, formatSeconds, median, pairedRatios, roundOrder, summarize } from '../../bench/stats.ts'

describe('bench statistics', () => {
  test.each([
    { name: 'odd count takes the middle value', values: [5, 1, 3], expected: 3 },
    { name: 'even count takes the mean of the middle two', values: [4, 1, 3, 2], expected: 2.5 },
    { name: 'one value is its own median', values: [7], expected: 7 },
  ])('$name', ({ values, expected }) => {
    expect(median(values)).toBe(expected)
  })

  test('a median of no runs is an error, not NaN', () => {
    expect(() => median([])).toThrow('no values')
  })

  test('summarize gives median, range and run count', () => {
    expect(summarize([300, 100, 200])).toEqual({ median: 200, min: 100, max: 300, runs: 3 })
  })

  test('ratios pair run i with run i, so the median ratio is not the ratio of medians', () => {
    const dbhook = [10, 40, 20]
    const peer = [100, 100, 50]
    expect(pairedRatios(dbhook, peer)).toEqual([0.1, 0.4, 0.4])
    expect(median(pairedRatios(dbhook, peer))).toBe(0.4)
    expect(median(dbhook) / median(peer)).toBe(0.2)
  })

  test('unequal run counts cannot be paired', () => {
    expect(() => pairedRatios([1, 2], [1])).toThrow('cannot pair 2 runs with 1')
  })

  test('each variant leads once in as many rounds as there are variants', () => {
    const variants = ['dbhook', 'psql loop', 'floor']
    const leaders = [0, 1, 2].map((round) => roundOrder(variants, round)[0])
    expect(leaders).toEqual(['dbhook', 'psql loop', 'floor'])
    expect(roundOrder(variants, 4)).toEqual(['psql loop', 'floor', 'dbhook'])
  })

  test.each([
    { ms: 12.34, text: '0.0123 s' },
    { ms: 123.4, text: '0.123 s' },
    { ms: 6800, text: '6.8 s' },
    { ms: 27_140, text: '27.1 s' },
    { ms: 123_456, text: '123 s' },
  ])('$ms ms reads as $text', ({ ms, text }) => {
    expect(formatSeconds(ms)).toBe(text)
  })

  test('ratios keep two significant digits', () => {
    expect(formatRatio(0.031_46)).toBe('0.031×')
    expect(formatRatio(1.234)).toBe('1.2×')
  })
})

describe('bench chart', () => {
  const series = [
    {
      label: 'dbhook, create',
      color: '#1f77b4',
      dashed: false,
      points: [
        { n: 4, median: 100, min: 90, max: 120 },
        { n: 256, median: 5000, min: 4800, max: 5200 },
      ],
    },
    {
      label: 'psql loop <re-run> & co',
      color: '#d62728',
      dashed: true,
      points: [
        { n: 4, median: 300, min: 250, max: 350 },
        { n: 64, median: 1500, min: 1400, max: 1600 },
        { n: 256, median: 27_000, min: 26_000, max: 28_000 },
      ],
    },
  ]

  test('renders a standalone SVG with one line per series and escaped labels', () => {
    const svg = renderChart('time against N', series)
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true)
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true)
    expect(svg.match(/<polyline /g)).toHaveLength(2)
    expect(svg).toContain('psql loop &lt;re-run&gt; &amp; co')
    expect(svg).toContain('stroke-dasharray')
  })

  test('uses log axes: N = 4, 64, 256 sit at 0, 2/3 and 1 of the width, and time is spaced by decades', () => {
    const svg = renderChart('t', series)
    const lines = [...svg.matchAll(/<polyline points="([^"]+)"/g)].map((m) => (m[1] ?? '').split(' ').map((p) => p.split(',').map(Number)))
    const [x4, x64, x256] = (lines[1] ?? []).map((p) => p[0]) as [number, number, number]
    expect((x64 - x4) / (x256 - x4)).toBeCloseTo(2 / 3, 2)
    // Grid from 10 ms (below the fastest run) to 100 s (above the slowest): 4 decades over a 340 px plot.
    for (const tick of ['10 ms', '100 ms', '1 s', '10 s', '100 s']) expect(svg).toContain(`>${tick}</text>`)
    const [y100, y5000] = (lines[0] ?? []).map((p) => p[1]) as [number, number]
    expect(y100 - y5000).toBeCloseTo((340 / 4) * Math.log10(5000 / 100), 0)
  })

  test('a chart without points is refused', () => {
    expect(() => renderChart('t', [])).toThrow('at least one point')
  })
})
