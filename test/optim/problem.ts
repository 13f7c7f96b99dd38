// The small fixed problem both optimizer and scheduler tests train on (test/fixtures/optim.json,
// written by test/fixtures/gen/gen_optim_fixtures.py), and the optimizer factory they share.
import * as fs from 'node:fs';
import * as path from 'node:path';

import * as torch from '../../lib';
import { type Encoded, fromEncoded } from '../helpers';

const { optim } = torch;
type Parameter = torch.nn.Parameter;
type Optimizer = torch.optim.Optimizer;
export type Opts = Record<string, unknown>;

/** An optimizer class, its defaults, and the options of its two parameter groups. */
export interface OptSpec {
  cls: string;
  defaults: Opts;
  groups: Opts[];
}

const problem = (
  JSON.parse(fs.readFileSync(path.join(process.cwd(), 'test', 'fixtures', 'optim.json'), 'utf8')) as {
    problem: Record<'W' | 'b' | 'V' | 'X' | 'Y', Encoded>;
  }
).problem;

type OptCtor = new (params: torch.optim.ParamsArg, opts: Opts) => Optimizer;
export const OPTIMIZERS: Record<string, OptCtor> = {
  SGD: optim.SGD as unknown as OptCtor,
  Adam: optim.Adam as unknown as OptCtor,
  AdamW: optim.AdamW as unknown as OptCtor,
  RMSprop: optim.RMSprop as unknown as OptCtor,
  Adagrad: optim.Adagrad as unknown as OptCtor,
};

/** Parameters from fixture values, or copies of other tensors. */
export function paramsFrom(ts: (Encoded | torch.Tensor)[]): Parameter[] {
  return ts.map((e) => {
    const t = e instanceof torch.Tensor ? e.detach().clone() : fromEncoded(e);
    const p = new torch.nn.Parameter(t);
    t.dispose();
    return p;
  });
}
/** W, b (group 0) and V (group 1) at their initial values. */
export const freshParams = (): Parameter[] => paramsFrom([problem.W, problem.b, problem.V]);
const X = torch.keep(fromEncoded(problem.X));
const Y = torch.keep(fromEncoded(problem.Y));

/** loss = mean((tanh(X @ W.T + b) @ V.T - Y) ** 2), backpropagated into the parameters' grads. */
export function backward(params: Parameter[]): void {
  const [W, b, V] = params;
  torch.tidy(() => {
    X.matmul(W.t()).add(b).tanh().matmul(V.t()).sub(Y).pow(2).mean().backward();
  });
}

/** The optimizer of `spec` over two groups: [W, b] and [V]. */
export function makeOptimizer(spec: OptSpec, params: Parameter[]): Optimizer {
  return new OPTIMIZERS[spec.cls](
    [
      { params: params.slice(0, 2), ...spec.groups[0] },
      { params: params.slice(2), ...spec.groups[1] },
    ],
    spec.defaults,
  );
}
