// `torch.ops.<namespace>.<name>[.<overload>](...)`: any operator the dispatcher knows, by
// PyTorch's own (snake_case) name, as PyTorch's `torch.ops` reaches them. `torch.ops.aten.topk`
// resolves among the overloads as a Python call would; `torch.ops.aten.topk.default` and
// `torch.ops.aten.add.Tensor` call one overload. Operators that TorchScript extensions register
// (after `torch.ops.loadLibrary`) are reached the same way under their namespace.
import { callBound, clearOpSets, GENERATED, opSet, resolveCall, type Schema } from './aten';
import { TorchError } from './errors';
import { native as N } from './native';

/** One overload: `torch.ops.aten.add.Tensor`. */
export type OpOverload = ((...args: unknown[]) => unknown) & {
  /** `aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor` */
  readonly schema: string;
};

/** All overloads of one name: callable (resolves as PyTorch does), with each overload as a property. */
export type OpPacket = ((...args: unknown[]) => unknown) & {
  /** The overload names (`''` is `default`). */
  overloads(): string[];
} & { readonly [overload: string]: OpOverload };

/** The operators of one namespace (`torch.ops.aten`). */
export type OpNamespace = { readonly [name: string]: OpPacket };

function overload(display: string, s: Schema): OpOverload {
  const f = (...args: unknown[]): unknown => {
    const set = opSet(s.name);
    if (set === undefined) throw new TypeError(`${display}: no such operator`);
    return callBound(display, resolveCall(display, set, undefined, args, s));
  };
  Object.defineProperty(f, 'schema', { value: s.text });
  Object.defineProperty(f, GENERATED, { value: s.name });
  return f as OpOverload;
}

function packet(ns: string, name: string): OpPacket | undefined {
  const qualified = `${ns}::${name}`;
  const set = opSet(qualified);
  if (set === undefined) return undefined;
  const display = `torch.ops.${ns}.${name}`;
  // a plain function (a Proxy around it would cost every call), each overload a lazy property
  const f = (...args: unknown[]): unknown => callBound(display, resolveCall(display, set, undefined, args));
  Object.defineProperty(f, 'overloads', { value: () => set.all.map((s) => s.overload) });
  for (const s of set.all) {
    const key = s.overload === '' ? 'default' : s.overload;
    let o: OpOverload | undefined;
    Object.defineProperty(f, key, {
      get: () => {
        o ??= overload(`${display}.${key}`, s);
        return o;
      },
      enumerable: true,
      configurable: true,
    });
  }
  return f as OpPacket;
}

function namespace(ns: string): OpNamespace {
  const packets = new Map<string, OpPacket | undefined>();
  return new Proxy({} as OpNamespace, {
    get(_t, key) {
      if (typeof key !== 'string') return undefined;
      if (!packets.has(key)) packets.set(key, packet(ns, key));
      const p = packets.get(key);
      if (p === undefined) throw new TypeError(`torch.ops.${ns}: this libtorch has no operator ${ns}::${key}`);
      return p;
    },
    has(_t, key) {
      return typeof key === 'string' && opSet(`${ns}::${key}`) !== undefined;
    },
  });
}

const namespaces = new Map<string, OpNamespace>();

/**
 * `torch.ops`: every operator libtorch's dispatcher has registered, by namespace (`aten`,
 * `prim`, and those of loaded extensions). Names and keywords are PyTorch's (snake_case names;
 * options take camelCase keys).
 * @example torch.ops.aten.topk(x, 2).values; torch.ops.aten.add.Tensor(a, b, { alpha: 2 })
 */
export const ops: { readonly [ns: string]: OpNamespace } & {
  /** Loads a shared library of custom operators (a TorchScript extension), as `torch.ops.load_library`. */
  loadLibrary(path: string): void;
  /** Every registered operator with its overload name (`aten::add.Tensor`, ...). */
  names(): string[];
} = new Proxy({} as never, {
  get(_t, key) {
    if (key === 'loadLibrary')
      return (p: string) => {
        N.atenLoadLibrary(p);
        clearOpSets();
        namespaces.clear();
      };
    if (key === 'names') return () => N.atenNames();
    if (typeof key !== 'string') return undefined;
    let n = namespaces.get(key);
    if (n === undefined) {
      n = namespace(key);
      namespaces.set(key, n);
    }
    return n;
  },
});

export { TorchError };
