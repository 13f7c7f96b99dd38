// torch.Generator (CPU) over native/generator.cc: libtorch's CPUGeneratorImpl (mt19937), the same
// engine as PyTorch's CPU generator, so a seed gives PyTorch's streams.
import { checkInt, typeError } from './errors';
import { type GeneratorHandle, native as N } from './native';
import { handle, Tensor } from './tensor';

const UINT64_MAX = 2n ** 64n - 1n,
  INT64_MIN = -(2n ** 63n);

/** A seed as the int64 with the uint64's bits (negative seeds wrap to uint64, as in PyTorch). */
export function seedBits(fn: string, seed: unknown): bigint {
  let s: bigint;
  if (typeof seed === 'bigint') {
    if (seed < INT64_MIN || seed > UINT64_MAX)
      throw new RangeError(`${fn}: expected seed to be in [-2^63, 2^64 - 1], got the bigint ${seed}n`);
    s = seed;
  } else {
    s = BigInt(checkInt(fn, 'seed', seed));
  }
  return BigInt.asIntN(64, BigInt.asUintN(64, s));
}

/**
 * A source of pseudo-random numbers (PyTorch's `torch.Generator`, CPU only): pass it as
 * `{ generator }` to `torch.randperm`, `torch.randint`, `torch.rand`, `torch.randn`,
 * `Tensor.uniform_`/`normal_`, the samplers, `DataLoader` and `randomSplit`
 * to draw from it instead of the global generator. The same seed gives the same numbers as
 * PyTorch's CPU generator; a new generator starts from PyTorch's default seed (67280421310721).
 *
 * @example
 * const g = new torch.Generator().manualSeed(42);
 * torch.randperm(10, { generator: g }).tolist(); // [2, 6, 1, 8, 4, 5, 0, 9, 3, 7], as PyTorch
 * const state = g.getState();
 * const a = torch.rand(3, { generator: g });
 * g.setState(state);
 * const b = torch.rand(3, { generator: g }); // equal to a
 */
export class Generator {
  /** @internal the native generator */
  readonly _g: GeneratorHandle;

  /**
   * @param device only `'cpu'` (the default) is supported
   * @throws TypeError for another device
   */
  constructor(device: string = 'cpu') {
    if (device !== 'cpu')
      throw new TypeError(`torch.Generator: only the 'cpu' device is supported, got ${JSON.stringify(device)}`);
    this._g = N.generatorNew();
  }

  /** @internal wraps an existing native generator (the default generator). */
  static _wrap(g: GeneratorHandle): Generator {
    const o = Object.create(Generator.prototype) as { _g: GeneratorHandle };
    o._g = g;
    return o as Generator;
  }

  /** The device of the generator: always `'cpu'`. */
  get device(): string {
    return 'cpu';
  }

  /**
   * Seeds the generator (PyTorch's `manual_seed`) and returns it, so that
   * `new torch.Generator().manualSeed(0)` reads as in PyTorch.
   * @param seed a safe integer or a bigint in [-2^63, 2^64 - 1] (negative seeds wrap to uint64)
   * @throws TypeError / RangeError for another seed
   * @example const g = new torch.Generator().manualSeed(0);
   */
  manualSeed(seed: number | bigint): this {
    N.generatorManualSeed(this._g, seedBits('Generator.manualSeed', seed));
    return this;
  }

  /**
   * Seeds the generator from a nondeterministic source (PyTorch's `Generator.seed()`) and
   * returns that seed.
   * @example const s = g.seed(); g.initialSeed() === s; // true
   */
  seed(): bigint {
    return N.generatorSeed(this._g);
  }

  /**
   * The seed the generator was last seeded with (a uint64, as a bigint).
   * @example new torch.Generator().manualSeed(7).initialSeed(); // 7n
   */
  initialSeed(): bigint {
    return N.generatorInitialSeed(this._g);
  }

  /**
   * The generator's state as a uint8 tensor (PyTorch's layout: a state taken in PyTorch with
   * `g.get_state()` can be restored here, and the other way round).
   * @example const s = g.getState(); torch.rand(2, { generator: g }); g.setState(s);
   */
  getState(): Tensor {
    return new Tensor(N.generatorGetState(this._g));
  }

  /**
   * Restores a state taken by `getState()` and returns the generator.
   * @param state a uint8 tensor from `getState()`
   * @throws TypeError if state is not a Tensor; TorchError if it is not a valid state
   * @example g.setState(saved);
   */
  setState(state: Tensor): this {
    const h = handle(state, 'Generator.setState', 'state');
    if (state.dtype !== 'uint8')
      throw new TypeError(`Generator.setState: expected state to be a uint8 tensor, got dtype ${state.dtype}`);
    N.generatorSetState(this._g, h);
    return this;
  }

  /** `'<torch.Generator>'`, as PyTorch prints one. */
  toString(): string {
    return '<torch.Generator>';
  }
}

let defaultGen: Generator | undefined;

/**
 * libtorch's global CPU generator (PyTorch's `torch.default_generator`): the one that
 * `torch.manualSeed` seeds and that random ops use without a `generator`.
 * @example torch.manualSeed(0); torch.defaultGenerator().initialSeed(); // 0n
 */
export function defaultGenerator(): Generator {
  if (defaultGen === undefined) defaultGen = Generator._wrap(N.generatorDefault());
  return defaultGen;
}

/** The native generator of an optional `generator` option, checked (`undefined`/`null`: none). */
export function generatorHandle(fn: string, v: unknown): GeneratorHandle | undefined {
  if (v === undefined || v === null) return undefined;
  if (!(v instanceof Generator)) typeError(fn, 'generator', 'a torch.Generator', v);
  return v._g;
}
