// `npm start`: develop and fine-tune the corrected seed model, end to end, on this CPU.
//
//   1. a synthetic task that needs both masks: 10-channel noisy sums of sines, each sequence
//      with its own frequencies and phases and its own length (padded to the batch length);
//      the model predicts the next step x_{t+1} at every step t, as the seed's x_{T+1};
//   2. training with Adam, a cosine learning-rate schedule and gradient clipping, against the
//      repeat-last-value baseline on held-out data;
//   3. a checkpoint saved in PyTorch's format, reloaded into a fresh model (identical outputs);
//   4. fine-tuning on a shifted task (higher frequencies) with the encoder frozen and a new head;
//   5. loss curves and the cross-attention heatmap as SVG files.
//
// Flags: --epochs N (default 30), --finetune-epochs N (20), --train-size N (1024), --lr X (0.01),
//        --device cpu|cuda, --out DIR (out/), --seed N (0), --no-progress, --help.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as torch from '../lib';
import { SeedModel } from './seed_model';

const { nn, optim } = torch;
type Tensor = torch.Tensor;

// ---- flags -----------------------------------------------------------------------------------
const USAGE = `Usage: npm start -- [--epochs N] [--finetune-epochs N] [--train-size N] [--lr X] [--device cpu|cuda]
                     [--out DIR] [--seed N] [--no-progress]

  --epochs N           training epochs (default 30)
  --finetune-epochs N  fine-tuning epochs (default 20)
  --train-size N       training sequences (default 1024)
  --lr X               Adam's learning rate (default 0.01)
  --device D           cpu or cuda (default cpu)
  --out DIR            where the checkpoint and the SVG files go (default out/)
  --seed N             the seed of the data and the model (default 0)
  --no-progress        no progress bars
  --help               this text`;
let flags: ReturnType<typeof parseFlags>;
function parseFlags() {
  return parseArgs({
    strict: true,
    allowPositionals: false,
    options: {
      epochs: { type: 'string', default: '30' },
      'finetune-epochs': { type: 'string', default: '20' },
      'train-size': { type: 'string', default: '1024' },
      lr: { type: 'string', default: '0.01' },
      device: { type: 'string', default: 'cpu' },
      out: { type: 'string', default: 'out' },
      seed: { type: 'string', default: '0' },
      'no-progress': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
}
try {
  flags = parseFlags();
} catch (e) {
  console.error(`${(e as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
const epochs = Number(flags.epochs);
const trainSize = Number(flags['train-size']);
const lr = Number(flags.lr);
const finetuneEpochs = Number(flags['finetune-epochs']);
const device = flags.device;
const outDir = path.resolve(flags.out);
const seed = Number(flags.seed);
const showProgress = !flags['no-progress'] && process.stdout.isTTY !== false;
for (const [k, v] of [
  ['epochs', epochs],
  ['finetune-epochs', finetuneEpochs],
  ['seed', seed],
] as const)
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${k} must be a non-negative integer, got ${v}`);

// ---- data ------------------------------------------------------------------------------------
const CHANNELS = 10,
  MAX_LEN = 24,
  MIN_LEN = 12;

interface Batch {
  x: Tensor;
  y: Tensor;
  padding: Tensor;
  valid: Tensor;
}

/**
 * n sequences of MAX_LEN steps, (L, N, 10): each channel sin(ωt + φ) + 0.5·sin(2.3ωt + ψ) + noise,
 * ω drawn from `freq`; lengths in [MIN_LEN, MAX_LEN], steps past a sequence's length are padding
 * (zeros, and `padding` true). Targets y_t = x_{t+1}; `valid` (L, N) marks the steps that have one.
 */
function makeData(n: number, freq: [number, number]): Batch {
  return torch.tidy(() => {
    const [lo, hi] = freq;
    const omega = torch
      .rand(1, n, CHANNELS)
      .mul(hi - lo)
      .add(lo);
    const phase = torch.rand(1, n, CHANNELS).mul(2 * Math.PI);
    const phase2 = torch.rand(1, n, CHANNELS).mul(2 * Math.PI);
    const t = torch.arange(MAX_LEN + 1, { dtype: 'float32' }).view(MAX_LEN + 1, 1, 1);
    const signal = t
      .mul(omega)
      .add(phase)
      .sin()
      .add(t.mul(omega).mul(2.3).add(phase2).sin().mul(0.5))
      .add(torch.randn(MAX_LEN + 1, n, CHANNELS).mul(0.05));
    const lengths = torch.randint(MIN_LEN, MAX_LEN + 1, [n]);
    const padding = nn.masks.keyPadding(lengths, MAX_LEN); // (N, L) true = padded
    const real = padding.logicalNot().t().unsqueeze(2); // (L, N, 1)
    const x = signal.narrow(0, 0, MAX_LEN).mul(real);
    const steps = torch.arange(MAX_LEN).unsqueeze(1); // (L, 1)
    const valid = steps.lt(lengths.sub(1).unsqueeze(0)); // t + 1 < length
    const y = signal.narrow(0, 1, MAX_LEN).mul(valid.unsqueeze(2));
    return { x: x.to(device), y: y.to(device), padding: padding.to(device), valid: valid.to(device) };
  });
}

function batchOf(d: Batch, idx: Tensor): Batch {
  return {
    x: d.x.indexSelect(1, idx),
    y: d.y.indexSelect(1, idx),
    padding: d.padding.indexSelect(0, idx),
    valid: d.valid.indexSelect(1, idx),
  };
}

/** Mean squared error over the valid steps only (padded steps carry no target). */
function maskedMse(pred: Tensor, b: Batch): Tensor {
  const w = b.valid.unsqueeze(2).to(pred.dtype);
  return pred.sub(b.y).square().mul(w).sum().div(w.sum().mul(CHANNELS));
}

function evaluate(model: SeedModel, d: Batch): number {
  model.eval();
  const v = torch.noGrad(() => torch.tidy(() => maskedMse(model.forward(d.x, d.padding), d).item() as number));
  model.train();
  return v;
}

/** The trivial baseline: predict x_{t+1} = x_t. */
const repeatLast = (d: Batch) => torch.tidy(() => maskedMse(d.x, d).item() as number);

// ---- training loop ---------------------------------------------------------------------------
interface Bar {
  update(v: number, payload?: object): void;
  stop(): void;
}
function progressBar(label: string, total: number): Bar {
  if (!showProgress) return { update() {}, stop() {} };
  const cliProgress = require('cli-progress');
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} |{bar}| {value}/{total} epochs | loss {loss} | val {val} | {rate} seq/s`,
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { loss: '-', val: '-', rate: '-' });
  return bar;
}

function train(
  model: SeedModel,
  opt: torch.optim.Optimizer,
  sched: { step(): void },
  data: Batch,
  val: Batch,
  nEpochs: number,
  label: string,
  curves: { train: number[]; val: number[] },
): void {
  const n = data.x.shape[1],
    batchSize = 32;
  const bar = progressBar(label, nEpochs);
  for (let epoch = 0; epoch < nEpochs; epoch++) {
    const t0 = process.hrtime.bigint();
    let sum = 0,
      count = 0;
    const perm = torch.randperm(n);
    for (let s = 0; s + batchSize <= n; s += batchSize) {
      sum += torch.tidy(() => {
        const b = batchOf(data, perm.narrow(0, s, batchSize));
        opt.zeroGrad();
        const loss = maskedMse(model.forward(b.x, b.padding), b);
        loss.backward();
        nn.utils.clipGradNorm_(model.parameters(), 1.0);
        opt.step();
        return loss.item() as number;
      });
      count++;
    }
    perm.dispose();
    sched.step();
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const v = evaluate(model, val);
    curves.train.push(sum / count);
    curves.val.push(v);
    bar.update(epoch + 1, {
      loss: (sum / count).toFixed(4),
      val: v.toFixed(4),
      rate: Math.round((count * batchSize) / secs),
    });
  }
  bar.stop();
}

// ---- main ------------------------------------------------------------------------------------
function main(): void {
  const start = Date.now();
  torch.manualSeed(seed);
  fs.mkdirSync(outDir, { recursive: true });
  console.log(
    `torch-napi ${torch.version} · libtorch ${torch.libtorchVersion} · ${torch.getNumThreads()} thread(s) · device ${device}`,
  );

  const trainSet = makeData(trainSize, [0.15, 0.45]);
  const valSet = makeData(128, [0.15, 0.45]);
  const model = new SeedModel();
  model.to(device);
  console.log(`\n${model.toString()}\n`);

  // 1-2. train
  const opt = new optim.Adam(model.parameters(), { lr });
  const sched = new optim.lrScheduler.CosineAnnealingLR(opt, { tMax: Math.max(epochs, 1), etaMin: lr / 20 });
  const curves = { train: [] as number[], val: [] as number[] };
  train(model, opt, sched, trainSet, valSet, epochs, 'train   ', curves);
  const baseline = repeatLast(valSet),
    trained = evaluate(model, valSet);
  console.log(
    `\nheld-out MSE: model ${trained.toFixed(4)} vs repeat-last baseline ${baseline.toFixed(4)} ` +
      `(${(baseline / trained).toFixed(1)}× lower)`,
  );

  // 3. checkpoint: PyTorch's format (torch.load in Python reads it), reloaded into a fresh model
  const ckpt = path.join(outDir, 'seed_model.pt');
  const sd = model.stateDict();
  torch.save(sd, ckpt);
  torch.dispose(sd);
  const restored = new SeedModel();
  restored.to(device);
  const loadedSd = torch.load(ckpt) as Record<string, Tensor>;
  restored.loadStateDict(loadedSd);
  torch.dispose(loadedSd);
  model.eval();
  restored.eval();
  const diff = torch.noGrad(() =>
    torch.tidy(
      () =>
        model
          .forward(valSet.x, valSet.padding)
          .sub(restored.forward(valSet.x, valSet.padding))
          .abs()
          .max()
          .item() as number,
    ),
  );
  model.train();
  console.log(
    `checkpoint: ${ckpt} (${(fs.statSync(ckpt).size / 1024).toFixed(1)} KiB); reloaded model max |Δoutput| = ${diff}`,
  );

  // 4. fine-tune on a shifted task: higher frequencies; encoder frozen, new head, smaller lr
  const shiftedTrain = makeData(trainSize, [0.45, 0.75]);
  const shiftedVal = makeData(128, [0.45, 0.75]);
  const before = evaluate(restored, shiftedVal);
  restored.encoder.requiresGrad_(false);
  restored.head = new nn.Linear(20, CHANNELS);
  restored.head.to(device);
  const ftOpt = new optim.Adam([
    { params: [...restored.decoder.parameters(), ...restored.cross.parameters()], lr: lr * 0.3 }, // pretrained: smaller lr
    { params: restored.head.parameters(), lr }, // new head
  ]);
  const ftSched = new optim.lrScheduler.CosineAnnealingLR(ftOpt, {
    tMax: Math.max(finetuneEpochs, 1),
    etaMin: lr / 20,
  });
  const ftCurves = { train: [] as number[], val: [] as number[] };
  train(restored, ftOpt, ftSched, shiftedTrain, shiftedVal, finetuneEpochs, 'finetune', ftCurves);
  const after = evaluate(restored, shiftedVal);
  const frozen = [...restored.encoder.parameters()].every((p) => p.grad === null);
  console.log(
    `\nshifted task (ω ∈ [0.45, 0.75]), held-out MSE: before fine-tuning ${before.toFixed(4)}, after ${after.toFixed(4)} ` +
      `(repeat-last ${repeatLast(shiftedVal).toFixed(4)}); encoder frozen: ${frozen}`,
  );

  // 5. pictures
  const lossSvg = torch.viz.writeSvg(
    path.join(outDir, 'loss.svg'),
    torch.viz.lineChart(
      [
        { name: 'train', values: [...curves.train, ...ftCurves.train] },
        { name: 'validation', values: [...curves.val, ...ftCurves.val] },
      ],
      { title: `Seed model: masked MSE (fine-tuning from epoch ${epochs})`, yLabel: 'MSE', logY: true },
    ),
  );
  const heatmap = torch.noGrad(() =>
    torch.tidy(() => {
      model.eval();
      // the shortest validation sequence shows both the causal triangle and the padded columns
      const lengths = valSet.padding.logicalNot().sum(1);
      const i = lengths.argmin().item() as number;
      const idx = torch.tensor([i], { dtype: 'int64' });
      const [, w] = model.forwardWithWeights(valSet.x.indexSelect(1, idx), valSet.padding.indexSelect(0, idx));
      const len = lengths.index(i).item() as number;
      return torch.viz.attentionHeatmap(w!, {
        title: `Cross-attention (sequence ${i}, length ${len} of ${MAX_LEN}): causal + key padding`,
        rowLabels: Array.from({ length: MAX_LEN }, (_, t) => `t${t}`),
        colLabels: Array.from({ length: MAX_LEN }, (_, s) => `${s}`),
        cellSize: 9,
      });
    }),
  );
  const heatSvg = torch.viz.writeSvg(path.join(outDir, 'attention.svg'), heatmap);
  console.log(`\nwrote ${lossSvg}\nwrote ${heatSvg}\ndone in ${((Date.now() - start) / 1000).toFixed(1)} s`);
}

main();
