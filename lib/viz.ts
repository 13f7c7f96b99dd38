// SVG pictures for attention weights and training curves: strings, no dependencies.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkBool, checkNumber, checkOptions, describe, typeError } from './errors';
import { Tensor } from './tensor';

/** Options of `torch.viz.attentionHeatmap`: row and column labels, the title, the cell size and head averaging. */
export interface HeatmapOptions {
  /** Labels of the query rows (length L). */
  rowLabels?: string[];
  /** Labels of the key columns (length S). */
  colLabels?: string[];
  /** A title above the chart. */
  title?: string;
  /** Pixel size of one cell (default 22). */
  cellSize?: number;
  /** Per head panels for `(H, L, S)` weights (default), or their average. */
  average?: boolean;
}

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

// Everything that lands in the SVG is checked: text is escaped, and attribute values (colors,
// sizes) must match a strict pattern or be finite numbers in range, so no option can inject markup.

/** A string option (text, escaped when written), or undefined. */
function optText(fn: string, arg: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : typeError(fn, arg, 'a string', v);
}

/** A finite number option in [min, max], or the default. */
function optSize(fn: string, arg: string, v: unknown, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  const n = checkNumber(fn, arg, v);
  if (!(n >= min && n <= max))
    throw new RangeError(`${fn}: expected ${arg} to be a number in [${min}, ${max}], got ${n}`);
  return n;
}

/** A labels option: an array of strings of the given length, or undefined. */
function optLabels(fn: string, arg: string, v: unknown, n: number, what: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) typeError(fn, arg, 'an array of strings', v);
  if (v.length !== n) throw new RangeError(`${fn}: ${arg} has ${v.length} labels for ${n} ${what}`);
  v.forEach((l, i) => optText(fn, `${arg}[${i}]`, l));
  return v as string[];
}

// #rgb, #rrggbb (with alpha: #rgba, #rrggbbaa), rgb()/rgba() of numbers, or a named color (letters).
const COLOR_RE =
  /^(#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})|rgba?\(\s*\d{1,3}(?:\.\d+)?%?\s*(?:,\s*\d{1,3}(?:\.\d+)?%?\s*){2}(?:,\s*(?:0|1|0?\.\d+)\s*)?\)|[a-zA-Z]{1,32})$/;

function optColor(fn: string, arg: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') typeError(fn, arg, 'a color string', v);
  if (!COLOR_RE.test(v))
    throw new TypeError(
      `${fn}: expected ${arg} to be a color (#rgb, #rrggbb, rgb(r, g, b) or a named color such as 'red'), ` +
        `got ${describe(v)}`,
    );
  return v;
}

/** White → dark blue; exact zeros (masked cells) are drawn as a hatched grey instead. */
function color(v: number, max: number): string {
  const t = max > 0 ? Math.min(1, Math.max(0, v / max)) : 0;
  const r = Math.round(255 - t * (255 - 8)),
    g = Math.round(255 - t * (255 - 48)),
    b = Math.round(255 - t * (255 - 107));
  return `rgb(${r},${g},${b})`;
}

/**
 * An SVG heatmap of attention weights: `(L, S)` one panel; `(H, L, S)` one panel per head (or
 * averaged with `average: true`); a leading batch dim of 1 is dropped. Cells whose weight is
 * exactly 0 (masked: causal future, padded keys) are hatched grey, so masks are visible. NaN
 * cells (fully masked rows) are red.
 *
 * Each cell is a `<rect class="cell">`, so the SVG can be checked by counting cells.
 */
export function attentionHeatmap(weights: Tensor, opts: HeatmapOptions = {}): string {
  const fn = 'torch.viz.attentionHeatmap';
  if (!(weights instanceof Tensor))
    throw new TypeError(`${fn}: expected weights to be a Tensor, got ${describe(weights)}`);
  opts = checkOptions<HeatmapOptions>(fn, opts, ['rowLabels', 'colLabels', 'title', 'cellSize', 'average']);
  const title = optText(fn, 'title', opts.title);
  const c = optSize(fn, 'cellSize', opts.cellSize, 1, 200, 22);
  const average = opts.average === undefined ? false : checkBool(fn, 'average', opts.average);
  let shape = [...weights.shape];
  while (shape.length > 3 && shape[0] === 1) shape = shape.slice(1);
  if (shape.length === 3 && shape[0] === 1 && !average) shape = shape.slice(1);
  if (shape.length !== 2 && shape.length !== 3)
    throw new RangeError(`${fn}: expected weights of shape (L, S) or (H, L, S), got [${weights.shape.join(', ')}]`);
  const data = Float64Array.from(weights.detach().to('float64').data() as Float64Array);
  let H = shape.length === 3 ? shape[0] : 1;
  const L = shape[shape.length - 2],
    S = shape[shape.length - 1];
  let panels: Float64Array[] = [];
  for (let h = 0; h < H; h++) panels.push(data.subarray(h * L * S, (h + 1) * L * S));
  if (average && H > 1) {
    const avg = new Float64Array(L * S);
    for (const p of panels) for (let i = 0; i < avg.length; i++) avg[i] += p[i] / H;
    panels = [avg];
    H = 1;
  }
  const rowLabels = optLabels(fn, 'rowLabels', opts.rowLabels, L, 'rows');
  const colLabels = optLabels(fn, 'colLabels', opts.colLabels, S, 'columns');
  const left = 40,
    top = title ? 44 : 24,
    gap = 24;
  const panelW = S * c,
    panelH = L * c;
  const width = Math.max(left + H * panelW + (H - 1) * gap + 20, 480),
    height = top + 18 + panelH + 30;
  let max = 0;
  for (const p of panels) for (const v of p) if (Number.isFinite(v) && v > max) max = v;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="10">`,
  );
  out.push(
    '<defs><pattern id="masked" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">' +
      '<rect width="6" height="6" fill="#e6e6e6"/><line x1="0" y1="0" x2="0" y2="6" stroke="#b0b0b0" stroke-width="2"/></pattern></defs>',
  );
  out.push('<rect width="100%" height="100%" fill="white"/>');
  if (title) out.push(`<text x="${left}" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`);
  panels.forEach((p, h) => {
    const x0 = left + h * (panelW + gap),
      y0 = top + 18;
    if (H > 1) out.push(`<text x="${x0}" y="${top + 10}">head ${h}</text>`);
    for (let i = 0; i < L; i++) {
      for (let j = 0; j < S; j++) {
        const v = p[i * S + j];
        const fill = Number.isNaN(v) ? '#d62728' : v === 0 ? 'url(#masked)' : color(v, max);
        out.push(
          `<rect class="cell" x="${x0 + j * c}" y="${y0 + i * c}" width="${c}" height="${c}" fill="${fill}" stroke="white" stroke-width="0.5"><title>q${i} → k${j}: ${Number.isNaN(v) ? 'NaN' : v.toFixed(4)}</title></rect>`,
        );
      }
    }
    for (let i = 0; i < L; i++)
      out.push(
        `<text x="${x0 - 4}" y="${y0 + i * c + c / 2 + 3}" text-anchor="end">${esc(rowLabels?.[i] ?? String(i))}</text>`,
      );
    const every = c >= 14 ? 1 : Math.ceil(14 / c); // small cells: label every k-th column
    for (let j = 0; j < S; j += every)
      out.push(
        `<text x="${x0 + j * c + c / 2}" y="${y0 + panelH + 12}" text-anchor="middle">${esc(colLabels?.[j] ?? String(j))}</text>`,
      );
  });
  out.push(
    `<text x="${left}" y="${height - 4}" fill="#555">rows: queries, columns: keys; hatched = weight 0 (masked)${panels.some((p) => p.some(Number.isNaN)) ? ', red = NaN (fully masked row)' : ''}</text>`,
  );
  out.push('</svg>');
  return out.join('\n');
}

/** One line of `torch.viz.lineChart`: a name for the legend and its values. */
export interface LineSeries {
  /** The name of the line in the legend. */
  name: string;
  /** The y values, at x = 0, 1, 2, ... */
  values: number[];
  /** A CSS color (default: the next of the palette). */
  color?: string;
}

/** Options of `torch.viz.lineChart`: the title, axis labels, a log y axis and the size of the SVG. */
export interface LineChartOptions {
  /** A title above the chart. */
  title?: string;
  /** The label of the x axis. */
  xLabel?: string;
  /** The label of the y axis. */
  yLabel?: string;
  /** A logarithmic y axis (default false). */
  logY?: boolean;
  /** The width of the SVG in pixels (default 640). */
  width?: number;
  /** The height of the SVG in pixels (default 360). */
  height?: number;
}

/**
 * An SVG line chart (e.g. training and validation loss per epoch); `logY` for a log scale.
 * `width` is in [240, 16384] (default 640), `height` in [120, 16384] (default 360); a series'
 * `color` is `#rgb`, `#rrggbb`, `rgb(r, g, b)` or a named color.
 */
export function lineChart(series: LineSeries[], opts: LineChartOptions = {}): string {
  const fn = 'torch.viz.lineChart';
  if (!Array.isArray(series) || series.length === 0) throw new TypeError(`${fn}: expected a non-empty array of series`);
  const list = series.map((s, k) => {
    if (s === null || typeof s !== 'object') typeError(fn, `series[${k}]`, '{name, values, color?}', s);
    const name = optText(fn, `series[${k}].name`, s.name) ?? '';
    if (!Array.isArray(s.values)) typeError(fn, `series[${k}].values`, 'an array of numbers', s.values);
    const values = s.values;
    for (let i = 0; i < values.length; i++) checkNumber(fn, `series[${k}].values[${i}]`, values[i]);
    return { name, values, color: optColor(fn, `series[${k}].color`, s.color) };
  });
  const o = checkOptions<LineChartOptions>(fn, opts, ['title', 'xLabel', 'yLabel', 'logY', 'width', 'height']);
  const title = optText(fn, 'title', o.title),
    xLabel = optText(fn, 'xLabel', o.xLabel),
    yLabel = optText(fn, 'yLabel', o.yLabel);
  const logY = o.logY === undefined ? false : checkBool(fn, 'logY', o.logY);
  const W = optSize(fn, 'width', o.width, 240, 16384, 640),
    Hh = optSize(fn, 'height', o.height, 120, 16384, 360);
  const ml = 60,
    mr = 20,
    mt = title ? 36 : 16,
    mb = 44;
  const tf = (v: number) => (logY ? Math.log10(Math.max(v, 1e-12)) : v);
  // Loops, not Math.min(...values): a spread of 200k points overflows the stack.
  let n = 0,
    lo = Infinity,
    hi = -Infinity;
  for (const s of list) {
    if (s.values.length > n) n = s.values.length;
    for (const v of s.values) {
      if (!Number.isFinite(v)) continue;
      const t = tf(v);
      if (t < lo) lo = t;
      if (t > hi) hi = t;
    }
  }
  if (lo === Infinity) {
    lo = 0;
    hi = 1;
  } // no finite value at all
  if (!(hi > lo)) {
    hi = lo + 1;
  }
  const x = (i: number) => ml + (n <= 1 ? 0 : (i / (n - 1)) * (W - ml - mr));
  const y = (v: number) => mt + (1 - (tf(v) - lo) / (hi - lo)) * (Hh - mt - mb);
  const palette = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd'];
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${Hh}" viewBox="0 0 ${W} ${Hh}" font-family="sans-serif" font-size="11">`,
    '<rect width="100%" height="100%" fill="white"/>',
  ];
  if (title) out.push(`<text x="${ml}" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`);
  out.push(
    `<line x1="${ml}" y1="${Hh - mb}" x2="${W - mr}" y2="${Hh - mb}" stroke="#333"/><line x1="${ml}" y1="${mt}" x2="${ml}" y2="${Hh - mb}" stroke="#333"/>`,
  );
  for (let k = 0; k <= 4; k++) {
    const tv = lo + ((hi - lo) * k) / 4,
      yy = mt + (1 - k / 4) * (Hh - mt - mb);
    const label = logY ? (10 ** tv).toPrecision(2) : tv.toPrecision(3);
    out.push(
      `<text x="${ml - 6}" y="${yy + 4}" text-anchor="end">${label}</text><line x1="${ml}" y1="${yy}" x2="${W - mr}" y2="${yy}" stroke="#eee"/>`,
    );
  }
  out.push(`<text x="${(ml + W - mr) / 2}" y="${Hh - 8}" text-anchor="middle">${esc(xLabel ?? 'epoch')}</text>`);
  if (yLabel)
    out.push(
      `<text x="14" y="${(mt + Hh - mb) / 2}" transform="rotate(-90 14 ${(mt + Hh - mb) / 2})" text-anchor="middle">${esc(yLabel)}</text>`,
    );
  list.forEach((s, k) => {
    const col = s.color ?? palette[k % palette.length];
    const parts: string[] = [];
    for (let i = 0; i < s.values.length; i++)
      if (Number.isFinite(s.values[i])) parts.push(`${x(i).toFixed(1)},${y(s.values[i]).toFixed(1)}`);
    const pts = parts.join(' ');
    out.push(`<polyline class="series" fill="none" stroke="${col}" stroke-width="2" points="${pts}"/>`);
    out.push(
      `<rect x="${W - mr - 150}" y="${mt + 4 + k * 16}" width="10" height="10" fill="${col}"/><text x="${W - mr - 135}" y="${mt + 13 + k * 16}">${esc(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n');
}

/** Writes an SVG string to `file` (creating its directory); returns the absolute path. */
export function writeSvg(file: string, svg: string): string {
  if (typeof file !== 'string' || typeof svg !== 'string')
    throw new TypeError('torch.viz.writeSvg: expected (file: string, svg: string)');
  const abs = path.resolve(file);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, svg);
  return abs;
}
