/**
 * A small SVG line chart for benchmark results: series of (x, y) points, axis labels, a title,
 * optional logarithmic axes and horizontal reference lines (a target). No dependency; the SVG is
 * self-contained, so it opens in a browser or renders on GitHub. Write it with saveFile (support.ts).
 */

export type Point = readonly [x: number, y: number];

export interface Series {
  readonly name: string;
  readonly points: readonly Point[];
  /** Drawn dashed (e.g. a median beside its p99). */
  readonly dashed?: boolean;
  /** A CSS colour; by default the next of a fixed palette. */
  readonly colour?: string;
}

export interface ReferenceLine {
  readonly y: number;
  readonly label: string;
}

export interface LineChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  readonly logX?: boolean;
  readonly logY?: boolean;
  /** Horizontal lines across the plot, e.g. a latency target. */
  readonly references?: readonly ReferenceLine[];
  readonly width?: number;
  readonly height?: number;
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A tick label: 1.5k, 20, 0.25 … */
function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  return `${+v.toPrecision(3)}`;
}

interface Axis {
  readonly min: number;
  readonly max: number;
  readonly ticks: readonly number[];
  /** Maps a value to [0, 1]. */
  readonly scale: (v: number) => number;
}

function linearAxis(lo: number, hi: number): Axis {
  if (lo === hi) {
    lo = lo === 0 ? 0 : lo * 0.9;
    hi = hi === 0 ? 1 : hi * 1.1;
  }
  const rough = (hi - lo) / 5;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) ?? 10 * magnitude);
  const min = Math.floor(lo / step) * step;
  const max = Math.ceil(hi / step) * step;
  const ticks: number[] = [];
  for (let t = min; t <= max + step / 2; t += step) ticks.push(+t.toPrecision(12));
  return { min, max, ticks, scale: (v) => (v - min) / (max - min) };
}

function logAxis(lo: number, hi: number): Axis {
  const min = 10 ** Math.floor(Math.log10(lo));
  let max = 10 ** Math.ceil(Math.log10(hi));
  if (max <= min) max = min * 10;
  const decades = Math.round(Math.log10(max / min));
  const ticks: number[] = [];
  for (let d = 0; d <= decades; d++) {
    const base = min * 10 ** d;
    for (const m of decades <= 3 ? [1, 2, 5] : [1]) if (base * m <= max * 1.0001) ticks.push(+(base * m).toPrecision(12));
  }
  return { min, max, ticks, scale: (v) => Math.log10(v / min) / Math.log10(max / min) };
}

/** The chart as SVG text. Points with a non-finite coordinate (or ≤ 0 on a log axis) are left out. */
export function lineChart(options: LineChartOptions): string {
  // The legend sits right of the plot, as wide as the longest name (about 7 px a character at 12 px).
  const legendWidth = 56 + 7 * Math.max(8, ...options.series.map((s) => s.name.length));
  const width = options.width ?? 560 + legendWidth;
  const height = options.height ?? 460;
  const margin = { left: 72, right: legendWidth, top: 44, bottom: 56 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const usable = (v: number, log: boolean | undefined) => Number.isFinite(v) && (!log || v > 0);
  const series = options.series.map((s) => ({
    ...s,
    points: s.points.filter(([x, y]) => usable(x, options.logX) && usable(y, options.logY)).sort((a, b) => a[0] - b[0]),
  }));
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = [...series.flatMap((s) => s.points.map((p) => p[1])), ...(options.references ?? []).map((r) => r.y).filter((y) => usable(y, options.logY))];
  const fallback = options.logY ? 1 : 0;
  const xAxis = (options.logX ? logAxis : linearAxis)(xs.length ? Math.min(...xs) : fallback, xs.length ? Math.max(...xs) : fallback + 1);
  const yAxis = (options.logY ? logAxis : linearAxis)(
    ys.length ? (options.logY ? Math.min(...ys) : Math.min(0, ...ys)) : fallback,
    ys.length ? Math.max(...ys) : fallback + 1,
  );
  const px = (x: number) => margin.left + xAxis.scale(x) * plotW;
  const py = (y: number) => margin.top + (1 - yAxis.scale(y)) * plotH;
  const f = (n: number) => n.toFixed(1);

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  out.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`);
  for (const t of xAxis.ticks) {
    out.push(`<line x1="${f(px(t))}" y1="${margin.top}" x2="${f(px(t))}" y2="${margin.top + plotH}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${f(px(t))}" y="${margin.top + plotH + 16}" text-anchor="middle">${formatTick(t)}</text>`);
  }
  for (const t of yAxis.ticks) {
    out.push(`<line x1="${margin.left}" y1="${f(py(t))}" x2="${margin.left + plotW}" y2="${f(py(t))}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${margin.left - 6}" y="${f(py(t) + 4)}" text-anchor="end">${formatTick(t)}</text>`);
  }
  out.push(`<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  const scaleNote = (log: boolean | undefined) => (log ? ' (log scale)' : '');
  out.push(`<text x="${margin.left + plotW / 2}" y="${height - 14}" text-anchor="middle">${escapeXml(options.xLabel + scaleNote(options.logX))}</text>`);
  out.push(`<text transform="translate(18 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel + scaleNote(options.logY))}</text>`);
  for (const r of options.references ?? []) {
    if (!usable(r.y, options.logY)) continue;
    out.push(`<line x1="${margin.left}" y1="${f(py(r.y))}" x2="${margin.left + plotW}" y2="${f(py(r.y))}" stroke="#555" stroke-dasharray="2 3"/>`);
    out.push(`<text x="${margin.left + plotW - 4}" y="${f(py(r.y) - 4)}" text-anchor="end" fill="#555">${escapeXml(r.label)}</text>`);
  }
  series.forEach((s, i) => {
    const colour = s.colour ?? COLOURS[i % COLOURS.length] ?? '#000';
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    if (s.points.length > 1) {
      out.push(`<polyline fill="none" stroke="${colour}" stroke-width="2"${dash} points="${s.points.map(([x, y]) => `${f(px(x))},${f(py(y))}`).join(' ')}"/>`);
    }
    for (const [x, y] of s.points) out.push(`<circle cx="${f(px(x))}" cy="${f(py(y))}" r="3" fill="${colour}"><title>${escapeXml(`${s.name}: ${formatTick(x)}, ${formatTick(y)}`)}</title></circle>`);
    const ly = margin.top + 10 + i * 20;
    const lx = margin.left + plotW + 14;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${colour}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${lx + 30}" y="${ly + 4}">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
