import { expect } from 'chai';
import * as torch from '../../lib';
import { expectError } from '../helpers';

const { nn } = torch;

/** A small XML well-formedness check: every tag closes in order, attributes are quoted. */
function parseSvg(svg: string): { tags: string[] } {
  const stack: string[] = [];
  const tags: string[] = [];
  const re = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<!--[\s\S]*?-->/g;
  let last = 0;
  for (let m = re.exec(svg); m; m = re.exec(svg)) {
    const between = svg.slice(last, m.index);
    if (between.includes('<') || between.includes('>'))
      throw new Error(`malformed markup near ${JSON.stringify(between.slice(0, 40))}`);
    last = re.lastIndex;
    if (!m[2]) continue;
    const [, close, name, , self] = m;
    if (close) {
      if (stack.pop() !== name) throw new Error(`unbalanced </${name}>`);
    } else {
      tags.push(name);
      if (!self) stack.push(name);
    }
  }
  if (svg.slice(last).trim()) throw new Error('trailing text after the root element');
  if (stack.length) throw new Error(`unclosed <${stack.join('>, <')}>`);
  return { tags };
}

describe('torch.viz', () => {
  it('attentionHeatmap: one cell per (head, query, key), masked cells hatched, the SVG is well formed', () => {
    const mha = new nn.MultiheadAttention(8, 2, { batchFirst: true });
    const q = torch.randn(1, 5, 8);
    const [, w] = mha.forward(q, q, q, {
      attnMask: nn.masks.causal(5),
      keyPaddingMask: nn.masks.keyPadding([4], 5),
      averageAttnWeights: false,
    });
    const svg = torch.viz.attentionHeatmap(w!, { title: 'a <title> & "quotes"', rowLabels: ['a', 'b', 'c', 'd', 'e'] });
    const { tags } = parseSvg(svg);
    expect(tags[0]).to.equal('svg');
    const cells = svg.match(/<rect class="cell"/g) ?? [];
    expect(cells.length).to.equal(2 * 5 * 5);
    // per head: the causal upper triangle (10 cells) plus key 4 for query 4 (padded, on the diagonal)
    const masked = svg.match(/fill="url\(#masked\)"/g) ?? [];
    expect(masked.length).to.equal(2 * (10 + 1));
    expect(svg).to.include('a &lt;title&gt; &amp; &quot;quotes&quot;');
    const avg = torch.viz.attentionHeatmap(w!, { average: true });
    expect((avg.match(/<rect class="cell"/g) ?? []).length).to.equal(25);
    parseSvg(avg);
  });

  it('attentionHeatmap: NaN rows (fully masked) are drawn red; bad shapes and labels are errors', () => {
    const w = torch.tensor([
      [0.5, 0.5],
      [NaN, NaN],
    ]);
    const svg = torch.viz.attentionHeatmap(w);
    parseSvg(svg);
    expect((svg.match(/#d62728/g) ?? []).length).to.equal(2);
    expect(() => torch.viz.attentionHeatmap(torch.ones(2, 2, 2, 2))).to.throw(RangeError, /attentionHeatmap/);
    expect(() => torch.viz.attentionHeatmap(w, { rowLabels: ['x'] })).to.throw(RangeError, /rowLabels/);
    expect(() => torch.viz.attentionHeatmap('w' as never)).to.throw(TypeError, /attentionHeatmap/);
  });

  it('lineChart: one polyline per series, well formed', () => {
    const svg = torch.viz.lineChart(
      [
        { name: 'train', values: [1, 0.5, 0.25] },
        { name: 'val', values: [1.2, 0.7, NaN] },
      ],
      { logY: true, title: 'loss' },
    );
    parseSvg(svg);
    expect((svg.match(/<polyline class="series"/g) ?? []).length).to.equal(2);
    expect(() => torch.viz.lineChart([])).to.throw(TypeError, /lineChart/);
  });

  it('lineChart: 200k points (no spread into Math.min / Math.max, which overflowed the stack)', () => {
    const values = Array.from({ length: 200000 }, (_, i) => Math.sin(i / 1000) + 2);
    const svg = torch.viz.lineChart(
      [
        { name: 'long', values },
        { name: 'nan', values: [NaN, Infinity] },
      ],
      { logY: true },
    );
    parseSvg(svg);
    expect((svg.match(/<polyline class="series"/g) ?? []).length).to.equal(2);
    expect(svg).to.not.include('NaN');
  });

  it('lineChart: colors, sizes and text cannot inject markup (strict colors, numbers in range, strings)', () => {
    const ok = torch.viz.lineChart(
      [
        { name: 'a', values: [1, 2], color: '#abc' },
        { name: 'b', values: [1, 2], color: 'rgb(1, 2, 3)' },
        { name: 'c', values: [2, 1], color: 'steelblue' },
        { name: 'd', values: [1], color: '#aabbccdd' },
      ],
      { width: 800, height: 400 },
    );
    parseSvg(ok);
    expect(ok)
      .to.include('stroke="#abc"')
      .and.include('stroke="rgb(1, 2, 3)"')
      .and.include('stroke="steelblue"')
      .and.include('width="800"');
    const s = [{ name: 'a', values: [1, 2] }];
    for (const color of [
      'red"/><script>alert(1)</script><x a="',
      'url(javascript:x)',
      '#12345',
      'rgb(1,2,3);x',
      'red green',
      '',
      'rgb(1,2)',
    ])
      expectError(
        () => torch.viz.lineChart([{ ...s[0], color }]),
        TypeError,
        /torch\.viz\.lineChart: expected series\[0\]\.color to be a color/,
      );
    expectError(
      () => torch.viz.lineChart([{ ...s[0], color: 3 as never }]),
      TypeError,
      /series\[0\]\.color to be a color string, got the number 3/,
    );
    for (const width of ['640"><script>' as never, NaN, Infinity, -1, 0, 1e9])
      expectError(
        () => torch.viz.lineChart(s, { width }),
        typeof width === 'string' ? TypeError : RangeError,
        /lineChart: expected width to be a number/,
      );
    expectError(
      () => torch.viz.lineChart(s, { height: '1e3' as never }),
      TypeError,
      /height to be a number, got a string/,
    );
    expectError(
      () => torch.viz.lineChart(s, { height: 50 }),
      RangeError,
      /height to be a number in \[120, 16384\], got 50/,
    );
    expectError(() => torch.viz.lineChart(s, { title: {} as never }), TypeError, /title to be a string, got an object/);
    expectError(() => torch.viz.lineChart(s, { logY: 'yes' as never }), TypeError, /logY/);
    expectError(() => torch.viz.lineChart(s, { colour: 'red' } as never), TypeError, /unknown option 'colour'/);
    expectError(
      () => torch.viz.lineChart([{ name: 1 as never, values: [1] }]),
      TypeError,
      /series\[0\]\.name to be a string/,
    );
    expectError(
      () => torch.viz.lineChart([{ name: 'a', values: 'x' as never }]),
      TypeError,
      /series\[0\]\.values to be an array of numbers/,
    );
    expectError(
      () => torch.viz.lineChart([{ name: 'a', values: [1, '2' as never] }]),
      TypeError,
      /series\[0\]\.values\[1\] to be a number/,
    );
    expectError(() => torch.viz.lineChart([null as never]), TypeError, /series\[0\]/);
    // text is escaped
    const esc = torch.viz.lineChart([{ name: '<script>', values: [1] }], { title: '"><b>', xLabel: '&', yLabel: "'" });
    parseSvg(esc);
    expect(esc).to.not.include('<script>').and.not.include('<b>');
  });

  it('attentionHeatmap: cellSize, labels and title are checked (no markup through an attribute)', () => {
    const w = torch.tensor([
      [0.5, 0.5],
      [0.25, 0.75],
    ]);
    parseSvg(
      torch.viz.attentionHeatmap(w, { cellSize: 10, rowLabels: ['<a>', 'b'], colLabels: ['x', '"y"'], title: '<t>' }),
    );
    for (const cellSize of ['22"/><script>' as never, NaN, -3, 0, 1e6])
      expectError(
        () => torch.viz.attentionHeatmap(w, { cellSize }),
        typeof cellSize === 'string' ? TypeError : RangeError,
        /torch\.viz\.attentionHeatmap: expected cellSize to be a number/,
      );
    expectError(
      () => torch.viz.attentionHeatmap(w, { rowLabels: [1, 2] as never }),
      TypeError,
      /rowLabels\[0\] to be a string, got the number 1/,
    );
    expectError(
      () => torch.viz.attentionHeatmap(w, { colLabels: 'ab' as never }),
      TypeError,
      /colLabels to be an array of strings/,
    );
    expectError(
      () => torch.viz.attentionHeatmap(w, { colLabels: ['a'] }),
      RangeError,
      /colLabels has 1 labels for 2 columns/,
    );
    expectError(() => torch.viz.attentionHeatmap(w, { title: 5 as never }), TypeError, /title to be a string/);
    expectError(() => torch.viz.attentionHeatmap(w, { average: 1 as never }), TypeError, /average/);
    expectError(
      () => torch.viz.attentionHeatmap(w, { cellsize: 3 } as never),
      TypeError,
      /unknown option 'cellsize', did you mean 'cellSize'/,
    );
    w.dispose();
  });
});
