// `npm run example:translate`: a token-level sequence-to-sequence model, trained with teacher
// forcing and decoded with greedy and beam search, on a deterministic translation task with real
// variable lengths: numbers written in digits → the same numbers in English words
// ("4017" → "four thousand seventeen").
//
//   1. data: a torch.text.Vocab per side, a DataLoader whose padSequenceCollate pads each batch
//      and returns lengths and key padding masks; held-out numbers never seen in training;
//   2. the model is the seed's architecture at token level: Embedding(paddingIdx) → LSTM encoder,
//      Embedding → LSTM decoder → causal self-attention over the decoder's own steps (attnMask +
//      the target keyPaddingMask) → cross-attention over the encoder (the source keyPaddingMask)
//      → Linear; teacher forcing through nn.utils.shiftRight;
//   3. decoding with torch.generate, step by step: the decoder carries its LSTM state (h, c) and a
//      self-attention cache, so each step costs O(prefix); greedy and beam search;
//   4. exact-match accuracy and corpus BLEU on held-out data; a checkpoint in PyTorch's format;
//      the cross-attention alignment of a few examples and the loss curve as SVG.
//
// Flags: --steps N (default 1000), --batch N (64), --beams N (4), --out DIR (out/), --seed N,
//        --no-progress, --help.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as torch from '../lib';
import { corpusBleu } from './bleu';
import { cli, intFlag, progressBar } from './cli';
import { digits, Translator, words } from './translate_model';

const { nn, optim } = torch;
type Tensor = torch.Tensor;

const USAGE = `Usage: npm run example:translate -- [--steps N] [--batch N] [--beams N] [--out DIR] [--seed N] [--no-progress]

  --steps N      training steps (default 1000)
  --batch N      sentence pairs per step (default 64)
  --beams N      beams of the beam search (default 4)
  --out DIR      where the checkpoint, vocabularies and SVG files go (default out/)
  --seed N       the seed of the data split and the model (default 0)
  --no-progress  no progress bar
  --help         this text`;
const flags = cli(USAGE, {
  steps: { type: 'string', default: '1000' },
  batch: { type: 'string', default: '64' },
  beams: { type: 'string', default: '4' },
  out: { type: 'string', default: 'out' },
  seed: { type: 'string', default: '0' },
});
const steps = intFlag(USAGE, 'steps', flags.steps, 0);
const batchSize = intFlag(USAGE, 'batch', flags.batch, 1);
const numBeams = intFlag(USAGE, 'beams', flags.beams, 1);
const seed = intFlag(USAGE, 'seed', flags.seed, 0);
const outDir = flags.out;
const showProgress = !flags['no-progress'] && process.stdout.isTTY === true;

/** A deterministic split of 0..99999: every 10th number (shuffled by a seeded rule) is held out. */
function split(): { train: number[]; test: number[] } {
  const all = Array.from({ length: 100000 }, (_, i) => i);
  const held = (n: number) => ((n * 2654435761 + seed * 97) >>> 0) % 10 === 0;
  return { train: all.filter((n) => !held(n)), test: all.filter(held) };
}

// ---- helpers -----------------------------------------------------------------------------------
type Pair = [Tensor, Tensor]; // source ids, target ids (+eos)

// ---- main --------------------------------------------------------------------------------------
function main(): void {
  const started = Date.now();
  torch.manualSeed(seed);
  fs.mkdirSync(outDir, { recursive: true });
  console.log(`torch-napi ${torch.version} · libtorch ${torch.libtorchVersion} · ${torch.getNumThreads()} thread(s)`);

  // 1. data
  const { train, test } = split();
  const srcVocab = torch.text.Vocab.build([digits(12345678), digits(90)], { specials: { unk: null } });
  const tgtVocab = torch.text.Vocab.build(
    train.slice(0, 20000).map((n) => words(n)),
    { specials: { unk: null } },
  );
  const PAD = srcVocab.padId as number;
  const BOS = tgtVocab.bosId as number;
  const EOS = tgtVocab.eosId as number;
  if (tgtVocab.padId !== PAD) throw new Error('both vocabularies put <pad> first');
  const pairOf = (n: number): Pair => [
    srcVocab.encode(digits(n), { as: 'tensor' }) as Tensor,
    tgtVocab.encode(words(n), { addEos: true, as: 'tensor' }) as Tensor,
  ];
  // numbers are drawn with every length equally likely (so that 5-digit numbers do not swamp the rest)
  const byDigits = [1, 2, 3, 4, 5].map((d) => train.filter((n) => String(n).length === d));
  const trainPairs = {
    length: steps * batchSize,
    getItem: (i: number): Pair => {
      const group = byDigits[i % 5];
      return pairOf(group[(i * 7919 + Math.floor(i / 5) * 104729) % group.length]);
    },
  };
  const loader = new torch.utils.data.DataLoader(trainPairs, {
    batchSize,
    shuffle: true,
    collate: torch.utils.data.padSequenceCollate({ padValue: PAD, batchFirst: false }),
  });
  console.log(
    `source vocabulary ${srcVocab.length} tokens, target ${tgtVocab.length}; ${train.length} training numbers, ${test.length} held out`,
  );

  // 2. model and training with teacher forcing
  const model = new Translator(srcVocab.length, tgtVocab.length, PAD);
  const opt = new optim.Adam(model.parameters(), { lr: 3e-3 });
  const sched = new optim.lrScheduler.OneCycleLR(opt, { maxLr: 3e-3, totalSteps: Math.max(steps, 1) });
  const losses: number[] = [];
  const bar = progressBar(showProgress, 'train |{bar}| {value}/{total} steps | loss {loss} | {rate} pairs/s', steps, {
    loss: '-',
    rate: '-',
  });
  let step = 0;
  let t0 = Date.now();
  for (const batch of loader) {
    const [src, tgt] = batch as unknown as [torch.utils.data.PaddedBatch, torch.utils.data.PaddedBatch];
    const loss = torch.tidy(() => {
      // (T, B) targets: decoder input = <bos> + target without its last step
      const tgtIn = nn.utils.shiftRight(tgt.padded, { startToken: BOS, batchFirst: false });
      opt.zeroGrad();
      const [logits] = model.forward(src.padded, src.paddingMask, tgtIn, tgt.paddingMask);
      const l = nn.functional.crossEntropy(logits.reshape([-1, tgtVocab.length]), tgt.padded.reshape([-1]), {
        ignoreIndex: PAD,
      });
      l.backward();
      nn.utils.clipGradNorm_(model.parameters(), 1.0);
      opt.step();
      return l.item() as number;
    });
    torch.dispose(batch);
    sched.step();
    losses.push(loss);
    step++;
    if (step % 25 === 0 || step === steps) {
      const rate = Math.round((25 * batchSize) / ((Date.now() - t0) / 1000));
      t0 = Date.now();
      bar.update(step, { loss: loss.toFixed(3), rate });
    }
  }
  bar.stop();
  console.log(
    `trained ${steps} steps in ${((Date.now() - started) / 1000).toFixed(1)} s, last loss ${losses.at(-1)?.toFixed(4)}`,
  );

  // 3-4. decoding held-out numbers: greedy and beam search
  model.eval();
  const evalNumbers = test.filter((_, i) => i % 20 === 0); // 500 held-out numbers, all lengths
  const refs = evalNumbers.map((n) => words(n));
  const results: Record<string, { exact: number; bleu: number; secs: number }> = {};
  let alignments: { n: number; words: string[]; attn: Tensor }[] = [];
  for (const [label, beams] of [
    ['greedy', 1],
    [`beam ${numBeams}`, numBeams],
  ] as [string, number][]) {
    const hyps: string[][] = [];
    const t1 = Date.now();
    for (let s = 0; s < evalNumbers.length; s += 100) {
      const chunk = evalNumbers.slice(s, s + 100);
      torch.tidy(() => {
        const srcList = chunk.map((n) => srcVocab.encode(digits(n), { as: 'tensor' }) as Tensor);
        const src = nn.utils.rnn.padSequence(srcList, { batchFirst: true, paddingValue: PAD });
        const srcPadding = nn.masks.keyPadding(
          chunk.map((n) => digits(n).length),
          src.shape[1],
        );
        const out = torch.generate(model, {
          src,
          srcPadding,
          bosToken: BOS,
          eosToken: EOS,
          padToken: PAD,
          maxLength: 12,
          numBeams: beams,
          outputAttentions: beams === 1 && s === 0,
        });
        const seqs = out.sequences.to('float64').tolist() as number[][];
        seqs.forEach((ids, i) => {
          hyps.push(tgtVocab.decode(ids.slice(0, out.lengths[i]), { skipSpecial: true }) as string[]);
        });
        if (out.attentions) {
          alignments = [0, 1, 2, 3].map((i) => ({
            n: chunk[i],
            words: hyps[i],
            attn: torch.keep(
              out.attentions?.select(0, i).narrow(0, 0, out.lengths[i]).narrow(1, 0, digits(chunk[i]).length) as Tensor,
            ),
          }));
        }
      });
    }
    const exact = hyps.filter((h, i) => h.join(' ') === refs[i].join(' ')).length / refs.length;
    results[label] = { exact, bleu: corpusBleu(hyps, refs), secs: (Date.now() - t1) / 1000 };
    if (label === 'greedy') {
      for (let i = 0; i < 5; i++)
        console.log(`  ${String(evalNumbers[i * 97]).padStart(5)} → ${hyps[i * 97].join(' ')}`);
    }
  }
  console.log('\nheld-out numbers (never seen in training):');
  for (const [label, r] of Object.entries(results)) {
    console.log(
      `  ${label.padEnd(8)} exact match ${(100 * r.exact).toFixed(1)} %  BLEU ${(100 * r.bleu).toFixed(1)}  (${r.secs.toFixed(1)} s for ${refs.length})`,
    );
  }

  // checkpoint (PyTorch's format: torch.load in Python reads it) and the vocabularies
  const ckpt = path.join(outDir, 'translate.pt');
  const sd = model.stateDict();
  torch.save(sd, ckpt);
  torch.dispose(sd);
  srcVocab.save(path.join(outDir, 'translate_src_vocab.json'));
  tgtVocab.save(path.join(outDir, 'translate_tgt_vocab.json'));

  // pictures: the cross-attention alignment of a few held-out numbers, and the loss curve
  for (const a of alignments) {
    const file = path.join(outDir, `translate_alignment_${a.n}.svg`);
    torch.viz.writeSvg(
      file,
      torch.viz.attentionHeatmap(a.attn, {
        rowLabels: [...a.words, '<eos>'].slice(0, a.attn.shape[0]),
        colLabels: digits(a.n),
        title: `cross-attention: ${a.n} → ${a.words.join(' ')}`,
      }),
    );
    a.attn.dispose();
  }
  torch.viz.writeSvg(
    path.join(outDir, 'translate_loss.svg'),
    torch.viz.lineChart([{ name: 'training loss', values: losses }], {
      title: 'translate: cross-entropy per step',
      xLabel: 'step',
      logY: true,
    }),
  );
  console.log(
    `\nwrote ${ckpt}, the vocabularies, ${alignments.length} alignment heatmaps and the loss curve to ${outDir}/`,
  );
  console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(JSON.stringify({ result: results, steps, seconds: (Date.now() - started) / 1000 }));
}

// run as a program (npm run example:…), not when a test imports the model
if (require.main === module) main();
