// Data-parallel training of the seed model with nn.parallel.DistributedDataParallel, and its
// throughput against one process. Run it through the launcher (one process per rank):
//
//   npm run example:ddp
//   # = node bin/torch-napi.js run --nproc-per-node 2 build/examples/examples/ddp.js [--steps N] [--batch N]
//
// Each rank trains on its own shard (--batch sequences per step, default 64) with one thread. First
// rank 0 alone times plain (non-DDP) training of the same model while the other ranks wait:
// the 1-rank baseline. Then every rank trains a plain model at the same time, without any
// communication: the most this machine gives that many processes (other load on the machine
// shows here). Then every rank trains the DDP-wrapped model; the gradients are averaged across
// ranks by libtorch's c10d Reducer during backward(). Rank 0 prints the three throughputs.
//
// In your own project: `import * as torch from 'torch-napi';`
import { parseArgs } from 'node:util';
import * as torch from '../lib';
import { SeedModel } from './seed_model';

const { nn, optim } = torch;
type Tensor = torch.Tensor;

const { values: flags } = parseArgs({
  options: {
    steps: { type: 'string', default: '20' },
    batch: { type: 'string', default: '64' },
    warmup: { type: 'string', default: '3' },
  },
});
const steps = Number(flags.steps),
  perRank = Number(flags.batch),
  warmup = Number(flags.warmup);
const LEN = 24,
  CHANNELS = 10;

/** One step's batch of n noisy sine sequences (L, N, 10), the targets x_{t+1}, and a key padding mask. */
function makeBatch(n: number): { x: Tensor; y: Tensor; padding: Tensor } {
  return torch.tidy(() => {
    const omega = torch.rand(1, n, CHANNELS).mul(0.5).add(0.1);
    const phase = torch.rand(1, n, CHANNELS).mul(2 * Math.PI);
    const t = torch.arange(LEN + 1, { dtype: 'float32' }).view(LEN + 1, 1, 1);
    const signal = t
      .mul(omega)
      .add(phase)
      .sin()
      .add(torch.randn(LEN + 1, n, CHANNELS).mul(0.05));
    const lengths = torch.randint(LEN / 2, LEN + 1, [n]);
    return {
      x: signal.narrow(0, 0, LEN),
      y: signal.narrow(0, 1, LEN),
      padding: nn.masks.keyPadding(lengths, LEN),
    };
  });
}

/** Trains `model` (plain or DDP-wrapped) for `warmup + steps` steps; returns the timed steps' seconds. */
function train(model: torch.nn.Module & { forward(x: Tensor, p: Tensor): Tensor }, seed: number): number {
  torch.manualSeed(seed);
  const opt = new optim.Adam([...model.parameters()], { lr: 0.01 });
  let start = 0;
  for (let i = 0; i < warmup + steps; i++) {
    if (i === warmup) start = performance.now();
    const b = makeBatch(perRank);
    opt.zeroGrad();
    torch.tidy(() => torch.nn.functional.mseLoss(model.forward(b.x, b.padding), b.y).backward());
    opt.step();
    torch.dispose([b.x, b.y, b.padding]);
  }
  return (performance.now() - start) / 1000;
}

async function main(): Promise<void> {
  torch.setNumThreads(1);
  await torch.distributed.initProcessGroup({ backend: 'gloo' }); // env:// (set by the launcher)
  const rank = torch.distributed.getRank(),
    world = torch.distributed.getWorldSize();

  // The 1-rank baseline: rank 0 alone, plain training (the other ranks wait at the barrier).
  let single = 0;
  if (rank === 0) {
    torch.manualSeed(0);
    single = (steps * perRank) / train(new SeedModel(), 1);
  }
  await torch.distributed.barrier();
  // The machine's ceiling: every rank trains its own plain model at the same time, with no
  // communication (what the cores give several processes at once).
  const alone = (steps * perRank) / train(new SeedModel(), 50 + rank);
  const ceiling = torch.tensor([alone], { dtype: 'float64' });
  await torch.distributed.allReduce(ceiling, { op: 'sum' });
  await torch.distributed.barrier();

  torch.manualSeed(rank); // different inits: DDP broadcasts rank 0's parameters when wrapping
  const ddp = new nn.parallel.DistributedDataParallel(new SeedModel());
  const secs = train(ddp as never, 100 + rank); // each rank its own data shard
  const perRankRate = (steps * perRank) / secs;
  if (rank === 0) {
    const total = perRankRate * world; // every rank processes perRank samples per step in lockstep
    console.log(`seed model, ${perRank} sequences per rank per step, ${steps} steps, 1 thread per rank`);
    const c = ceiling.item() as number;
    console.log(`1 rank:  ${single.toFixed(1)} samples/s`);
    console.log(`${world} ranks, DDP: ${total.toFixed(1)} samples/s (${(total / single).toFixed(2)}x of 1 rank)`);
    console.log(
      `${world} processes without communication (this machine's ceiling now): ${c.toFixed(1)} samples/s ` +
        `(${(c / single).toFixed(2)}x); DDP reaches ${((100 * total) / c).toFixed(0)}% of it`,
    );
  }
  // Every rank ends with the same parameters.
  const check = torch.cat([...ddp.parameters()].map((p) => p.detach().flatten())).sum();
  const all = check.clone();
  await torch.distributed.allReduce(all, { op: 'max' });
  if (rank === 0) console.log(`parameters equal on all ranks: ${all.item() === check.item()}`);
  ddp.dispose();
  torch.distributed.destroyProcessGroup();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
