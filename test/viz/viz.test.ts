import { expect } from 'chai';
import * as torch from '../../lib';

const { nn } = torch;

/** A small XML well-formedness check: every tag closes in order, attributes are quoted. */
function parseSvg(svg: string): { tags: string[] } {
  const stack: string[] = [];
  const tags: string[] = [];
  const re = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<!--[\s\S]*?-->/g;
  let last = 0;
  for (let m = re.exec(svg); m; m = re.exec(svg)) {
    const between = svg.slice(last, m.index);
    if (between.includes('<') || between.includes('>')) throw new Error(`malformed markup near ${JSON.stringify(between.slice(0, 40))}`);
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
      attnMask: nn.masks.causal(5), keyPaddingMask: nn.masks.keyPadding([4], 5), averageAttnWeights: false,
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
    const w = torch.tensor([[0.5, 0.5], [NaN, NaN]]);
    const svg = torch.viz.attentionHeatmap(w);
    parseSvg(svg);
    expect((svg.match(/#d62728/g) ?? []).length).to.equal(2);
    expect(() => torch.viz.attentionHeatmap(torch.ones(2, 2, 2, 2))).to.throw(RangeError, /attentionHeatmap/);
    expect(() => torch.viz.attentionHeatmap(w, { rowLabels: ['x'] })).to.throw(RangeError, /rowLabels/);
    expect(() => torch.viz.attentionHeatmap('w' as never)).to.throw(TypeError, /attentionHeatmap/);
  });

  it('lineChart: one polyline per series, well formed', () => {
    const svg = torch.viz.lineChart([{ name: 'train', values: [1, 0.5, 0.25] }, { name: 'val', values: [1.2, 0.7, NaN] }], { logY: true, title: 'loss' });
    parseSvg(svg);
    expect((svg.match(/<polyline class="series"/g) ?? []).length).to.equal(2);
    expect(() => torch.viz.lineChart([])).to.throw(TypeError, /lineChart/);
  });
});
