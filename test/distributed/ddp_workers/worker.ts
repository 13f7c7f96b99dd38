// One rank of a DDP test (test/distributed/ddp.test.ts starts them as child processes on
// loopback). `node worker.js <mode> <out.json> [args...]`, with RANK, WORLD_SIZE, MASTER_ADDR and
// MASTER_PORT in the environment. It writes what the test checks to out.json and exits 0; an
// error is written there too ({error, name}), so the test can check its message.
import * as fs from 'node:fs';
import * as torch from '../../../lib';
import { loss, type ModelKind, makeModel, paramValues, shard } from './common';

const { DistributedDataParallel } = torch.nn.parallel;
const [mode, outFile, ...rest] = process.argv.slice(2);
const rank = Number(process.env.RANK);
const world = Number(process.env.WORLD_SIZE);
torch.setNumThreads(1);

function write(v: unknown): void {
  fs.writeFileSync(outFile, JSON.stringify(v));
}

/** Steps [from, to) of DDP training: each rank takes its B/world samples of the global batch. */
async function train(
  kind: ModelKind,
  ddp: torch.nn.parallel.DistributedDataParallel,
  opt: torch.optim.Optimizer,
  B: number,
  from: number,
  to: number,
): Promise<void> {
  const n = B / world;
  for (let step = from; step < to; step++) {
    opt.zeroGrad();
    const s = shard(kind, step, B, rank * n, n);
    const l = loss(kind, ddp, s);
    // Both backward paths: the Reducer's hooks run on the JS thread or on a pool thread.
    if (step % 2 === 0) l.backward();
    else await l.backwardAsync();
    torch.dispose([l, s.x, s.y, s.pad]);
    opt.step();
  }
}

async function main(): Promise<void> {
  await torch.distributed.initProcessGroup({ backend: 'gloo' });
  const kind = (rest[0] ?? 'mlp') as ModelKind;
  const B = Number(rest[1] ?? 8);
  switch (mode) {
    case 'train': {
      // Different seeds on each rank: the wrap-time broadcast makes rank 0's parameters everyone's.
      const ddp = new DistributedDataParallel(makeModel(kind, 1 + rank), { bucketCapMB: 0.001 });
      const opt = new torch.optim.Adam([...ddp.parameters()], { lr: 0.01 });
      await train(kind, ddp, opt, B, 0, 10);
      write({
        params: paramValues(ddp.module),
        keys: Object.keys(ddp.stateDict()),
        buckets: ddp.bucketIndices,
      });
      break;
    }
    case 'nosync': {
      // Each step: two micro-batches per rank, the first under noSync; one optimizer step.
      const ddp = new DistributedDataParallel(makeModel(kind, 1 + rank));
      const opt = new torch.optim.Adam([...ddp.parameters()], { lr: 0.01 });
      const n = B / (2 * world);
      for (let step = 0; step < 3; step++) {
        opt.zeroGrad();
        const first = shard(kind, step, B, 2 * rank * n, n);
        ddp.noSync(() => torch.tidy(() => loss(kind, ddp, first, 2).backward()));
        const second = shard(kind, step, B, (2 * rank + 1) * n, n);
        {
          using _ = ddp.noSync(); // the disposable form: nothing synced inside, restored after
        }
        torch.tidy(() => loss(kind, ddp, second, 2).backward());
        opt.step();
      }
      write({ params: paramValues(ddp.module) });
      break;
    }
    case 'checkpoint': {
      // 5 steps; rank 0 saves the model (module. keys) and the optimizer in PyTorch's format; every
      // rank resumes from the file into a freshly initialised model and trains 5 more steps.
      const file = rest[2];
      {
        const ddp = new DistributedDataParallel(makeModel(kind, 1 + rank));
        const opt = new torch.optim.Adam([...ddp.parameters()], { lr: 0.01 });
        await train(kind, ddp, opt, B, 0, 5);
        if (rank === 0) torch.save({ model: ddp.stateDict(), optimizer: opt.stateDict() }, file);
        await torch.distributed.barrier();
        ddp.dispose();
      }
      const ddp = new DistributedDataParallel(makeModel(kind, 100 + rank));
      const opt = new torch.optim.Adam([...ddp.parameters()], { lr: 0.01 });
      const ck = torch.load(file) as { model: Record<string, torch.Tensor>; optimizer: never };
      ddp.loadStateDict(ck.model);
      opt.loadStateDict(ck.optimizer);
      await train(kind, ddp, opt, B, 5, 10);
      write({ params: paramValues(ddp.module) });
      break;
    }
    case 'options': {
      // findUnusedParameters (a Linear forward never uses), gradientAsBucketView, forwardAsync.
      const ddp = new DistributedDataParallel(makeModel('unused', 1 + rank), {
        findUnusedParameters: true,
        gradientAsBucketView: true,
        bucketCapMB: 0.001,
      });
      const buckets = ddp.bucketIndices;
      const opt = new torch.optim.Adam([...ddp.parameters()], { lr: 0.01 });
      const n = B / world;
      for (let step = 0; step < 10; step++) {
        opt.zeroGrad();
        const s = shard('unused', step, B, rank * n, n);
        const out = await ddp.forwardAsync(s.x);
        const l = torch.nn.functional.mseLoss(out, s.y);
        await l.backwardAsync();
        torch.dispose([l, out, s.x, s.y]);
        opt.step();
      }
      const extraGrad = (ddp.module as unknown as { extra: torch.nn.Linear }).extra.weight.grad;
      // broadcastBuffers: a BatchNorm's running statistics differ after each rank's own training
      // forward; the next forward starts by broadcasting rank 0's, so an eval forward leaves them equal.
      torch.manualSeed(7 + rank);
      const bn = new DistributedDataParallel(
        new torch.nn.Sequential(new torch.nn.Linear(6, 4), new torch.nn.BatchNorm1d(4)),
      );
      const x = torch.randn(4, 6).add(rank);
      torch.tidy(() => bn.forward(x).sum().backward());
      const afterTrain = Array.from(
        ((bn.module as torch.nn.Sequential).at(1) as torch.nn.BatchNorm1d).runningMean!.data() as Float32Array,
      );
      bn.eval();
      torch.noGrad(() => bn.forward(x).dispose());
      const afterEval = Array.from(
        ((bn.module as torch.nn.Sequential).at(1) as torch.nn.BatchNorm1d).runningMean!.data() as Float32Array,
      );
      write({ params: paramValues(ddp.module), buckets, extraGradIsNull: extraGrad === null, afterTrain, afterEval });
      break;
    }
    case 'badshape': {
      // Rank 1's model has a different hidden size: wrapping must fail, not hang.
      try {
        new DistributedDataParallel(makeModel('mlp', 1, rank === 1 ? 17 : 16));
        write({ error: null });
      } catch (e) {
        write({ error: (e as Error).message, name: (e as Error).name });
      }
      process.exit(0);
      break;
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
  torch.distributed.destroyProcessGroup();
}

main().catch((e) => {
  write({ error: String(e?.stack ?? e) });
  process.exit(1);
});
