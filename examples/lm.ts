// `npm run example:lm`: a GPT-style character language model trained on this repository's own
// documentation (README.md, then the guides of docs/guides/), then sampled at two temperatures.
//
//   1. data: the documentation's characters → ids (torch.text.Vocab); random windows for training, the
//      last 10 % of the text held out for validation;
//   2. the model: token + position embeddings, pre-norm decoder blocks (causal self-attention with
//      nn.MultiheadAttention and an nn.masks.causal attnMask, then an MLP), a final LayerNorm and
//      a Linear head; trained with AdamW and a cosine schedule;
//   3. sampling with torch.generate: each block carries an nn.AttentionCache, so a new character
//      costs one step over the cached keys and values, not a pass over the whole prefix;
//   4. validation loss (and bits per character) against the unigram baseline; the loss curves as SVG.
//
// Flags: --steps N (default 1500), --batch N (32), --context N (64), --out DIR (out/), --seed N,
//        --no-progress, --help.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as torch from '../lib';
import { cli, intFlag, progressBar } from './cli';
import { CharLM } from './lm_model';

const { nn, optim } = torch;
type Tensor = torch.Tensor;

const USAGE = `Usage: npm run example:lm -- [--steps N] [--batch N] [--context N] [--out DIR] [--seed N] [--no-progress]

  --steps N      training steps (default 1500)
  --batch N      windows per step (default 32)
  --context N    characters per window (default 64)
  --out DIR      where the SVG files go (default out/)
  --seed N       the seed of the model, the windows and the samples (default 0)
  --no-progress  no progress bar
  --help         this text`;
const flags = cli(USAGE, {
  steps: { type: 'string', default: '1500' },
  batch: { type: 'string', default: '32' },
  context: { type: 'string', default: '64' },
  out: { type: 'string', default: 'out' },
  seed: { type: 'string', default: '0' },
});
const steps = intFlag(USAGE, 'steps', flags.steps, 0);
const batchSize = intFlag(USAGE, 'batch', flags.batch, 1);
const context = intFlag(USAGE, 'context', flags.context, 2);
const seed = intFlag(USAGE, 'seed', flags.seed, 0);
const outDir = flags.out;
const showProgress = !flags['no-progress'] && process.stdout.isTTY === true;

/** The repository's README.md: the first one found walking up from the compiled example. */
function findReadme(dir: string): string {
  for (let d = dir; ; d = path.dirname(d)) {
    const f = path.join(d, 'README.md');
    if (fs.existsSync(f) && fs.existsSync(path.join(d, 'package.json'))) return f;
    if (path.dirname(d) === d) throw new Error(`README.md not found above ${dir}`);
  }
}

/** README.md, then the guides (docs/guides/*.md, by name): the documentation the README was before it was split. */
function readDocs(readme: string): string {
  const guides = path.join(path.dirname(readme), 'docs', 'guides');
  const files = fs.existsSync(guides)
    ? fs
        .readdirSync(guides)
        .filter((f) => f.endsWith('.md'))
        .sort()
        .map((f) => path.join(guides, f))
    : [];
  return [readme, ...files].map((f) => fs.readFileSync(f, 'utf8')).join('\n');
}

function main(): void {
  const started = Date.now();
  torch.manualSeed(seed);
  fs.mkdirSync(outDir, { recursive: true });
  console.log(`torch-napi ${torch.version} · libtorch ${torch.libtorchVersion} · ${torch.getNumThreads()} thread(s)`);

  // 1. data: the documentation, character by character
  const text = readDocs(findReadme(__dirname));
  const chars = [...text];
  const vocab = torch.text.Vocab.build([chars], { specials: { pad: null, bos: null, eos: null, unk: '\u0000' } });
  const ids = vocab.encode(chars, { as: 'tensor' }) as Tensor;
  const nVal = Math.floor(chars.length / 10);
  const trainIds = ids.narrow(0, 0, chars.length - nVal);
  const valIds = ids.narrow(0, chars.length - nVal, nVal);
  console.log(`README.md and docs/guides: ${chars.length} characters, ${vocab.length} distinct; ${nVal} held out`);

  const windows = (src: Tensor, starts: Tensor): [Tensor, Tensor] => {
    const idx = starts.unsqueeze(1).add(torch.arange(context + 1).unsqueeze(0)); // (B, T+1)
    const w = src.indexSelect(0, idx.reshape([-1])).reshape(idx.shape);
    return [w.narrow(1, 0, context), w.narrow(1, 1, context)];
  };
  const model = new CharLM(vocab.length, 512);
  const opt = new optim.AdamW(model.parameters(), { lr: 3e-3, weightDecay: 0.01 });
  const sched = new optim.lrScheduler.CosineAnnealingLR(opt, { tMax: Math.max(steps, 1), etaMin: 3e-4 });
  const V = vocab.length;

  // the validation loss over fixed windows
  const valStarts = torch.arange(0, nVal - context - 1, Math.max(1, Math.floor((nVal - context - 1) / 64)), {
    dtype: 'int64',
  });
  const validate = (): number =>
    torch.noGrad(() =>
      torch.tidy(() => {
        model.eval();
        const [x, y] = windows(valIds, valStarts);
        const l = nn.functional.crossEntropy(model.forward(x).reshape([-1, V]), y.reshape([-1])).item() as number;
        model.train();
        return l;
      }),
    );
  // the unigram baseline: each character's training frequency
  const unigram = torch.tidy(() => {
    const counts = torch.bincount(trainIds, { minlength: V }).to('float32').add(1);
    const logp = counts.div(counts.sum()).log();
    return -(logp.indexSelect(0, valIds).mean().item() as number);
  });

  // 2. training
  const bar = progressBar(showProgress, 'train |{bar}| {value}/{total} steps | loss {loss} | val {val}', steps, {
    loss: '-',
    val: '-',
  });
  const curves = { train: [] as number[], val: [] as number[], valStep: [] as number[] };
  let val = validate();
  for (let step = 0; step < steps; step++) {
    const loss = torch.tidy(() => {
      const starts = torch.randint(0, chars.length - nVal - context - 1, [batchSize], { dtype: 'int64' });
      const [x, y] = windows(trainIds, starts);
      opt.zeroGrad();
      const l = nn.functional.crossEntropy(model.forward(x).reshape([-1, V]), y.reshape([-1]));
      l.backward();
      nn.utils.clipGradNorm_(model.parameters(), 1.0);
      opt.step();
      return l.item() as number;
    });
    sched.step();
    curves.train.push(loss);
    if ((step + 1) % 100 === 0 || step + 1 === steps) {
      val = validate();
      curves.val.push(val);
      curves.valStep.push(step + 1);
    }
    bar.update(step + 1, { loss: loss.toFixed(3), val: val.toFixed(3) });
  }
  bar.stop();
  const secs = (Date.now() - started) / 1000;
  console.log(
    `\nvalidation loss ${val.toFixed(3)} nats/char (${(val / Math.LN2).toFixed(2)} bits/char) vs unigram baseline ` +
      `${unigram.toFixed(3)} (${(unigram / Math.LN2).toFixed(2)} bits/char); trained ${steps} steps in ${secs.toFixed(1)} s`,
  );

  // 3. sampling: a prompt, then 200 characters at two temperatures (seeded: the same every run)
  model.eval();
  const prompt = '## Install';
  for (const temperature of [0.6, 1.0]) {
    torch.manualSeed(seed + 1);
    const out = torch.tidy(() =>
      torch.generate(model, {
        prompt: (vocab.encode([...prompt], { as: 'tensor' }) as Tensor).unsqueeze(0),
        maxLength: 200,
        doSample: true,
        temperature,
        topK: 20,
      }),
    );
    const sample = vocab.decode((out.sequences.to('float64').tolist() as number[][])[0]) as string[];
    console.log(`\n--- temperature ${temperature} ---\n${prompt}${sample.join('')}`);
    torch.dispose([out.sequences, out.scores]);
  }

  // 4. loss curves
  const file = torch.viz.writeSvg(
    path.join(outDir, 'lm_loss.svg'),
    torch.viz.lineChart(
      [
        { name: 'training loss', values: curves.train },
        {
          name: 'validation loss',
          values: curves.train.map((_, i) => {
            const k = curves.valStep.findIndex((s) => s >= i + 1);
            return curves.val[k === -1 ? curves.val.length - 1 : k];
          }),
        },
      ],
      { title: 'character LM on the documentation: cross-entropy (nats/char)', xLabel: 'step' },
    ),
  );
  console.log(`\nwrote ${file}; done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(JSON.stringify({ result: { valLoss: val, unigram }, steps, seconds: (Date.now() - started) / 1000 }));
}

// run as a program (npm run example:…), not when a test imports the model
if (require.main === module) main();
