import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { corpusBleu } from '../../examples/bleu';
import { Translator, words } from '../../examples/translate_model';
import * as torch from '../../lib';
import { settleGarbage } from '../helpers';

const PYTHON = '/usr/bin/python3';
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
const examples = path.join(process.cwd(), 'dist-test', 'examples');

function run(script: string, args: string[]): { out: string; result: Record<string, unknown> } {
  const r = spawnSync(process.execPath, [path.join(examples, script), ...args], { encoding: 'utf8', timeout: 240000 });
  expect(r.status, `${script} ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).to.equal(0);
  const last = r.stdout.trim().split('\n').at(-1) as string;
  return { out: r.stdout, result: JSON.parse(last) };
}

describe('examples: translate and lm', () => {
  it('the translation task: numbers in English words', () => {
    const cases: [number, string][] = [
      [0, 'zero'],
      [15, 'fifteen'],
      [20, 'twenty'],
      [42, 'forty two'],
      [100, 'one hundred'],
      [110, 'one hundred ten'],
      [999, 'nine hundred ninety nine'],
      [1000, 'one thousand'],
      [4017, 'four thousand seventeen'],
      [12345, 'twelve thousand three hundred forty five'],
      [99999, 'ninety nine thousand nine hundred ninety nine'],
    ];
    for (const [n, w] of cases) expect(words(n).join(' '), String(n)).to.equal(w);
  });

  it('corpus BLEU: clipped n-gram precisions, their geometric mean, the brevity penalty', () => {
    const s = (x: string) => x.split(' ');
    expect(corpusBleu([s('a b c d e')], [s('a b c d e')])).to.equal(1);
    // p1..p4 = 5/6, 4/5, 3/4, 2/3; same length
    expect(corpusBleu([s('a b c d e f')], [s('a b c d e g')])).to.be.closeTo((1 / 3) ** 0.25, 1e-12);
    // all precisions 1, candidate 4 tokens against 6: BP = exp(1 - 6/4)
    expect(corpusBleu([s('a b c d')], [s('a b c d e f')])).to.be.closeTo(Math.exp(-0.5), 1e-12);
    // no 4-gram in common: 0 (no smoothing, as sacreBLEU's default corpus score)
    expect(corpusBleu([s('the cat sat on the mat')], [s('the cat is on the mat')])).to.equal(0);
    // clipping: "the the the" matches "the" once
    expect(corpusBleu([s('the the the')], [s('the cat')], 1)).to.be.closeTo(1 / 3, 1e-12);
    expect(() => corpusBleu([s('a')], [])).to.throw(RangeError, /1 candidates but 0 references/);
  });

  it('translate runs end to end: training, greedy and beam decoding, checkpoint, vocabularies, SVGs', function () {
    this.timeout(240000);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'translate-'));
    const { result } = run('translate.js', ['--steps', '40', '--beams', '2', '--no-progress', '--out', out]);
    const r = result.result as Record<string, { exact: number; bleu: number }>;
    expect(Object.keys(r)).to.deep.equal(['greedy', 'beam 2']);
    for (const v of Object.values(r)) {
      expect(v.exact).to.be.within(0, 1);
      expect(v.bleu).to.be.within(0, 1);
    }
    for (const f of ['translate.pt', 'translate_src_vocab.json', 'translate_tgt_vocab.json', 'translate_loss.svg'])
      expect(fs.existsSync(path.join(out, f)), f).to.equal(true);
    const svgs = fs.readdirSync(out).filter((f) => f.startsWith('translate_alignment_'));
    expect(svgs).to.have.length(4);
    expect(fs.readFileSync(path.join(out, svgs[0]), 'utf8')).to.match(/<rect class="cell"/);

    // the checkpoint loads into a fresh model, and Python computes the same logits from it
    const src = torch.text.Vocab.load(path.join(out, 'translate_src_vocab.json'));
    const tgt = torch.text.Vocab.load(path.join(out, 'translate_tgt_vocab.json'));
    const model = new Translator(src.length, tgt.length, src.padId as number);
    const sd = torch.load(path.join(out, 'translate.pt')) as Record<string, torch.Tensor>;
    model.loadStateDict(sd);
    model.eval();
    const srcIds = torch
      .tensor(
        [
          [4, 5, 6],
          [7, 8, 0],
        ],
        { dtype: 'int64' },
      )
      .t(); // (S, B)
    const srcPad = torch.tensor([
      [false, false, false],
      [false, false, true],
    ]);
    const tgtIn = torch
      .tensor(
        [
          [2, 5, 6, 7],
          [2, 8, 0, 0],
        ],
        { dtype: 'int64' },
      )
      .t();
    const tgtPad = torch.tensor([
      [false, false, false, false],
      [false, false, true, true],
    ]);
    const [logits] = torch.noGrad(() => model.forward(srcIds, srcPad, tgtIn, tgtPad));
    if (!hasTorch) return;
    const py = `
import json, sys, torch
from torch import nn
sd = torch.load(sys.argv[1])
class Translator(nn.Module):
    def __init__(s):
        super().__init__()
        s.srcEmb = nn.Embedding(*sd['srcEmb.weight'].shape, padding_idx=0)
        s.tgtEmb = nn.Embedding(*sd['tgtEmb.weight'].shape, padding_idx=0)
        E, H = sd['srcEmb.weight'].shape[1], sd['encoder.weight_hh_l0'].shape[1]
        s.encoder = nn.LSTM(E, H, num_layers=2)
        s.decoder = nn.LSTM(E, H, num_layers=2)
        s.selfAttn = nn.MultiheadAttention(H, 4)
        s.cross = nn.MultiheadAttention(H, 4)
        s.head = nn.Linear(2 * H, sd['head.weight'].shape[0])
    def forward(s, src, src_pad, tgt_in, tgt_pad):
        memory, hc = s.encoder(s.srcEmb(src))
        dec, _ = s.decoder(s.tgtEmb(tgt_in), hc)
        T = tgt_in.shape[0]
        causal = torch.ones(T, T, dtype=torch.bool).triu(1)
        sa, _ = s.selfAttn(dec, dec, dec, attn_mask=causal, key_padding_mask=tgt_pad, need_weights=False)
        h = dec + sa
        ctx, _ = s.cross(h, memory, memory, key_padding_mask=src_pad, need_weights=False)
        return s.head(torch.cat([h, ctx], 2))
m = Translator()
m.load_state_dict(sd, strict=True)
m.eval()
src = torch.tensor([[4, 5, 6], [7, 8, 0]]).t()
src_pad = torch.tensor([[False, False, False], [False, False, True]])
tgt_in = torch.tensor([[2, 5, 6, 7], [2, 8, 0, 0]]).t()
tgt_pad = torch.tensor([[False, False, False, False], [False, False, True, True]])
with torch.no_grad():
    print(json.dumps(m(src, src_pad, tgt_in, tgt_pad).reshape(-1).tolist()))
`;
    const p = spawnSync(PYTHON, ['-c', py, path.join(out, 'translate.pt')], { encoding: 'utf8' });
    expect(p.status, p.stderr).to.equal(0);
    const want = JSON.parse(p.stdout) as number[];
    const got = Array.from(logits.reshape([-1]).data() as Float32Array);
    expect(got.length).to.equal(want.length);
    const worst = Math.max(...got.map((g, i) => Math.abs(g - want[i])));
    expect(worst, 'max |node - python| logits').to.be.below(1e-4);
    torch.dispose([logits, srcIds, srcPad, tgtIn, tgtPad, sd]);
    fs.rmSync(out, { recursive: true, force: true });
  });

  it('a translator decodes the same with generateAsync (its decodeStepAsync on the thread pool) as with generate', async () => {
    torch.manualSeed(7);
    const model = new Translator(13, 32, 0).eval();
    const src = torch.tensor(
      [
        [4, 5, 6],
        [7, 8, 0],
      ],
      { dtype: 'int64' },
    );
    const srcPadding = torch.tensor([
      [false, false, false],
      [false, false, true],
    ]);
    for (const numBeams of [1, 3]) {
      const o = {
        src,
        srcPadding,
        bosToken: 2,
        eosToken: 3,
        padToken: 0,
        maxLength: 6,
        numBeams,
        outputAttentions: true,
      };
      const a = torch.generate(model, o);
      await settleGarbage(); // earlier tests' dropped tensors must not be collected while this counts
      const before = torch.memory().tensors;
      const b = await torch.generateAsync(model, o);
      expect(torch.memory().tensors).to.equal(before + 3); // its three outputs, nothing else left behind
      expect(b.sequences.to('float64').tolist()).to.deep.equal(a.sequences.to('float64').tolist());
      expect(b.lengths).to.deep.equal(a.lengths);
      const d = torch.tidy(() => b.scores.sub(a.scores).abs().max().item() as number);
      expect(d).to.be.below(1e-5);
      torch.dispose([a, b].flatMap((x) => [x.sequences, x.scores, x.attentions as torch.Tensor]));
    }
    torch.dispose([src, srcPadding]);
  });

  it('lm runs end to end: trains on the documentation, samples at two temperatures, writes its loss curve', function () {
    this.timeout(240000);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'lm-'));
    const { out: stdout, result } = run('lm.js', ['--steps', '30', '--context', '16', '--no-progress', '--out', out]);
    const r = result.result as { valLoss: number; unigram: number };
    expect(r.valLoss).to.be.greaterThan(0);
    expect(r.unigram).to.be.greaterThan(0);
    expect(stdout).to.match(/--- temperature 0\.6 ---/);
    expect(stdout).to.match(/--- temperature 1 ---/);
    expect(fs.existsSync(path.join(out, 'lm_loss.svg'))).to.equal(true);
    fs.rmSync(out, { recursive: true, force: true });
  });
});
