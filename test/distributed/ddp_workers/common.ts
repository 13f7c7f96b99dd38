// What the DDP test ranks and the test's single-process reference share: the models, the data of
// each step (the same on every rank, from a seeded generator), the shards and one training step.
import { SeedModel } from '../../../examples/seed_model';
import * as torch from '../../../lib';
import { prng } from '../../helpers';

const { nn } = torch;
type Tensor = torch.Tensor;

export type ModelKind = 'mlp' | 'seed' | 'unused';

/** The MLP and a Linear that forward never uses (its parameters get no gradient). */
class WithUnused extends nn.Module {
  net = new nn.Sequential(new nn.Linear(6, 16), new nn.Tanh(), new nn.Linear(16, 3));
  extra = new nn.Linear(3, 3);
  forward(x: Tensor): Tensor {
    return this.net.forward(x);
  }
  override forwardAsync(x: Tensor): Promise<Tensor> {
    return this.net.forwardAsync(x);
  }
}

/** Sizes: the MLP maps 6 features to 3; the seed model reads (L, N, 10) sequences. */
export const L = 5;

/** A float64 model initialised from `seed` (ranks pass different seeds: DDP's wrap-time broadcast evens them). */
export function makeModel(kind: ModelKind, seed: number, hidden = 16): torch.nn.Module {
  torch.manualSeed(seed);
  const m =
    kind === 'mlp'
      ? new nn.Sequential(new nn.Linear(6, hidden), new nn.Tanh(), new nn.Linear(hidden, 3))
      : kind === 'unused'
        ? new WithUnused()
        : new SeedModel({ numHeads: 4 });
  return m.to('float64');
}

/** The plain numbers of step `step`'s global batch of `B` samples (the same on every rank). */
export function batchData(kind: ModelKind, step: number, B: number): { x: number[]; y: number[]; pad: boolean[] } {
  const r = prng(1000 + step);
  const n = kind === 'seed' ? L * B * 10 : B * 6;
  const m = kind === 'seed' ? L * B * 10 : B * 3;
  const x = Array.from({ length: n }, () => r() * 2 - 1);
  const y = Array.from({ length: m }, () => r() * 2 - 1);
  // The seed model's key padding: the last step of every third sequence.
  const pad = Array.from({ length: B * L }, (_, k) => Math.floor(k / L) % 3 === 2 && k % L === L - 1);
  return { x, y, pad };
}

/** Samples [start, start + count) of step `step`'s global batch, as tensors. */
export function shard(kind: ModelKind, step: number, B: number, start: number, count: number) {
  const d = batchData(kind, step, B);
  if (kind !== 'seed') {
    const x = torch.tensor(d.x, { dtype: 'float64' }).reshape([B, 6]).narrow(0, start, count).contiguous();
    const y = torch.tensor(d.y, { dtype: 'float64' }).reshape([B, 3]).narrow(0, start, count).contiguous();
    return { x, y, pad: null as Tensor | null };
  }
  const x = torch.tensor(d.x, { dtype: 'float64' }).reshape([L, B, 10]).narrow(1, start, count).contiguous();
  const y = torch.tensor(d.y, { dtype: 'float64' }).reshape([L, B, 10]).narrow(1, start, count).contiguous();
  const pad = torch.tensor(d.pad).reshape([B, L]).narrow(0, start, count).contiguous();
  return { x, y, pad };
}

/** The mean squared error of `model` on a shard, divided by `scale` (micro-batches per step). */
export function loss(
  kind: ModelKind,
  model: { forward(...a: unknown[]): unknown },
  s: ReturnType<typeof shard>,
  scale = 1,
): Tensor {
  const out = (kind === 'seed' ? model.forward(s.x, s.pad) : model.forward(s.x)) as Tensor;
  return torch.nn.functional.mseLoss(out, s.y).div(scale);
}

/** The parameters by name as plain numbers (what a rank reports). */
export function paramValues(m: torch.nn.Module): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [k, p] of m.namedParameters()) out[k] = Array.from(p.detach().data() as Float64Array);
  return out;
}

/** The single-process reference: `steps` Adam steps on the whole batch of B (model seed 1). */
export function reference(kind: ModelKind, B: number, steps: number, lr = 0.01): Record<string, number[]> {
  const model = makeModel(kind, 1);
  const opt = new torch.optim.Adam([...model.parameters()], { lr });
  for (let step = 0; step < steps; step++) {
    opt.zeroGrad();
    torch.tidy(() => loss(kind, model, shard(kind, step, B, 0, B)).backward());
    opt.step();
  }
  return paramValues(model);
}
