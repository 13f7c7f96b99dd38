// Every ATen operator from its schema: the resolver behind the generated ops (lib/generated/) and
// the escape hatch `torch.ops.aten.<name>.<overload>`.
//
// libtorch's dispatcher knows every operator's schema at run time (native/aten.cc hands them over
// as strings). A call is bound here as PyTorch's Python argument parser binds it: the overloads
// are tried in PyTorch's order (Tensor before Scalar, int before int[], ...), positional arguments
// fill the schema's positional parameters, and one trailing options object gives any argument by
// its camelCase keyword. The chosen overload is called boxed; its results come back as Tensors,
// arrays (with PyTorch's field names for named results), numbers, booleans or dtype names.
import { beforeConv } from './backends';
import { DTYPES, type DType } from './dtype';
import { describe, suggestOption, unknownOptionError } from './errors';
import { type Handle, native as N } from './native';
import { Tensor } from './tensor';

// ---- schemas -----------------------------------------------------------------------------------

/** One parameter or result type of a schema: `int[2]?`, `Tensor(a!)`, `Tensor?[]`, `ScalarType?`. */
export interface SchemaType {
  /** Tensor, int, SymInt, float, bool, Scalar, str, ScalarType, Layout, Device, MemoryFormat, Generator, ... */
  base: string;
  /** `T[]` (or `T[N]`) */
  list: boolean;
  /** the N of `T[N]` */
  size?: number;
  /** `T?[]`: the elements may be None */
  elemOptional: boolean;
  /** `T?` */
  optional: boolean;
  /** the alias annotation marks it written (`Tensor(a!)`) */
  write: boolean;
  /** the alias set (`a` of `Tensor(a!)`), when it has one */
  alias?: string;
  /** the type as the schema spells it, without the alias annotation */
  text: string;
}

export interface SchemaArg {
  name: string;
  /** the keyword a JS caller uses: camelCase of `name` */
  key: string;
  type: SchemaType;
  kwargOnly: boolean;
  /** the default as the schema spells it, when it has one */
  default?: string;
}

export interface Schema {
  id: number;
  /** `aten::topk` */
  name: string;
  /** `values` (empty for the default overload) */
  overload: string;
  args: SchemaArg[];
  returns: { name?: string; type: SchemaType }[];
  /** the kwarg-only arguments it writes its results into (`out`, or `values` and `indices`) */
  outArgs: string[];
  text: string;
  // precomputed for binding
  selfIndex: number;
  /** indices of the positional (not kwarg-only) arguments, with and without self */
  positional: number[];
  positionalNoSelf: number[];
  /** where in `positional` (or `positionalNoSelf`) an int list takes varargs (`x.view(2, 3)`), or -1 */
  varargs: number;
  varargsNoSelf: number;
  /** arguments without a default (Python requires them, even those that may be None) */
  required: number[];
  /** arguments with neither a default nor None to fall back on (the second, lenient pass) */
  requiredLenient: number[];
  /** keyword -> argument index (self excluded) */
  keyIndex: Map<string, number>;
  /** it has arguments written in place */
  writes: boolean;
  /** it returns one Tensor that aliases no written argument */
  simpleTensorResult: boolean;
}

/** `padding_idx` -> `paddingIdx` */
export function camel(s: string): string {
  return s.replace(/_+([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** Splits at top-level commas (not inside brackets, parentheses or quotes). */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = '';
  let cur = '';
  for (const ch of s) {
    if (quote) {
      if (ch === quote) quote = '';
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '(' || ch === '[') depth++;
    else if (ch === ')' || ch === ']') depth--;
    else if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

export function parseType(t: string): SchemaType {
  let write = false;
  let alias: string | undefined;
  const text = t.replace(/\(([^)]*)\)/, (_m, a: string) => {
    write = a.includes('!');
    alias = a.replace('!', '').split('->')[0].trim() || undefined;
    return '';
  });
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(\?)?(?:\[(\d*)\])?(\?)?$/.exec(text);
  if (!m) return { base: text, list: false, elemOptional: false, optional: false, write, alias, text };
  const list = m[3] !== undefined;
  return {
    base: m[1],
    list,
    size: list && m[3] ? Number(m[3]) : undefined,
    elemOptional: list && m[2] === '?',
    optional: list ? m[4] === '?' : m[2] === '?',
    write,
    alias,
    text,
  };
}

/** Parses a schema as the dispatcher prints it. */
export function parseSchema(id: number, text: string): Schema {
  const open = text.indexOf('(');
  const full = text.slice(0, open);
  const dot = full.indexOf('.');
  const name = dot < 0 ? full : full.slice(0, dot);
  const overload = dot < 0 ? '' : full.slice(dot + 1);
  // the argument list ends at the parenthesis that closes `open`
  let depth = 0;
  let close = open;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) {
      close = i;
      break;
    }
  }
  const args: SchemaArg[] = [];
  let kwargOnly = false;
  for (const part of splitTop(text.slice(open + 1, close))) {
    if (part === '*') {
      kwargOnly = true;
      continue;
    }
    const eq = part.indexOf('=');
    const decl = eq < 0 ? part : part.slice(0, eq);
    const sp = decl.lastIndexOf(' ');
    const argName = decl.slice(sp + 1).trim();
    args.push({
      name: argName,
      key: camel(argName),
      type: parseType(decl.slice(0, sp).trim()),
      kwargOnly,
      default: eq < 0 ? undefined : part.slice(eq + 1).trim(),
    });
  }
  let ret = text.slice(close + 1).replace(/^\s*->\s*/, '');
  if (ret.startsWith('(') && ret.endsWith(')')) ret = ret.slice(1, -1);
  const returns = splitTop(ret).map((r) => {
    const sp = r.lastIndexOf(' ');
    const hasName = sp > 0 && !r.slice(sp + 1).includes(')');
    return hasName ? { name: r.slice(sp + 1), type: parseType(r.slice(0, sp)) } : { type: parseType(r) };
  });
  const outArgs = args.filter((a) => a.kwargOnly && a.type.write && a.type.base === 'Tensor').map((a) => a.name);
  const idx = args.map((_a, i) => i);
  const selfIndex = args.findIndex((a) => a.name === 'self');
  const positional = idx.filter((i) => !args[i].kwargOnly);
  const positionalNoSelf = positional.filter((i) => i !== selfIndex);
  // Python takes varargs for an int list that is the only positional parameter (x.view(2, 3))
  const varargsOf = (params: number[]): number => {
    if (params.length !== 1) return -1;
    const t = args[params[0]].type;
    return t.list && (t.base === 'int' || t.base === 'SymInt') ? 0 : -1;
  };
  const keyIndex = new Map<string, number>();
  for (const i of idx) if (i !== selfIndex) keyIndex.set(args[i].key, i);
  return {
    id,
    name,
    overload,
    args,
    returns,
    outArgs,
    text,
    selfIndex,
    positional,
    positionalNoSelf,
    varargs: varargsOf(positional),
    varargsNoSelf: varargsOf(positionalNoSelf),
    // Python's rule: an argument without a default must be given, even one that may be None
    // (`div(x, y, *, str? rounding_mode)` is the overload for a call that names rounding_mode)
    required: idx.filter((i) => args[i].default === undefined),
    requiredLenient: idx.filter((i) => args[i].default === undefined && !args[i].type.optional),
    keyIndex,
    writes: args.some((a) => a.type.write),
    simpleTensorResult:
      returns.length === 1 && returns[0].type.base === 'Tensor' && !returns[0].type.list && !returns[0].type.write,
  };
}

// ---- overload order ------------------------------------------------------------------------------
// PyTorch's Python argument parser tries the overloads of a name in one order (torchgen's
// sort_overloads): an overload whose parameter types are all "smaller" comes after. So a Tensor
// is tried as a Tensor before a Scalar overload could take it as a number, `int` before `int[]`,
// and Tensor[] last.
function argSmaller(t1: SchemaType, t2: SchemaType): boolean {
  const a = t1.text;
  const b = t2.text;
  return (
    (a === 'Scalar' && b === 'Tensor') ||
    (a === 'Scalar?' && b === 'Tensor?') ||
    (a.includes('Dimname') && !b.includes('Dimname')) ||
    (t1.base === 'int' && t1.list && !t2.list && (b === 'int' || b === 'int?')) ||
    (a === 'Tensor[]' && b.includes('[')) ||
    (t1.base === 'SymInt' && t1.list && t2.base === 'int' && t2.list)
  );
}

function isSmaller(s1: Schema, s2: Schema): boolean {
  const a1 = s1.args.filter((a) => !s1.outArgs.includes(a.name));
  const a2 = s2.args.filter((a) => !s2.outArgs.includes(a.name));
  if (a1.length !== a2.length) return false;
  let equal = true;
  for (let i = 0; i < a1.length; i++) {
    const t1 = a1[i].type;
    const t2 = a2[i].type;
    if (t1.text === t2.text) continue;
    equal = false;
    if (!argSmaller(t1, t2)) return false;
  }
  return !equal;
}

/** The C++-ish type names in Python's signature strings (torchgen's argument_type_str). */
const PY_TYPE: Record<string, string> = {
  int: 'int64_t',
  float: 'double',
  str: 'c10::string_view',
};
const PY_LIST: Record<string, string> = {
  int: 'IntArrayRef',
  SymInt: 'SymIntArrayRef',
  float: 'ArrayRef<double>',
  Tensor: 'TensorList',
  Scalar: 'ScalarList',
  bool: 'std::array<bool>',
};

/**
 * The signature string PyTorch's Python binding sorts overloads by before it orders them:
 * `max(Tensor input, Tensor other)` < `max(Tensor input, int64_t dim, ...)`, so `x.max(t)` with a
 * 0-dim integer tensor `t` is the elementwise maximum there, not a reduction over dim `t`.
 */
function pySortKey(s: Schema): string {
  const args = s.args
    .filter((a) => !s.outArgs.includes(a.name))
    .map((a) => {
      const t = a.type;
      let ty: string;
      if (t.list) ty = t.elemOptional ? 'c10::List<c10::optional<Tensor>>' : (PY_LIST[t.base] ?? `${t.base}[]`);
      else ty = PY_TYPE[t.base] ?? t.base;
      if (t.list && t.size !== undefined) ty += `[${t.size}]`;
      if (t.optional) ty += '?';
      return `${ty} ${a.name === 'self' ? 'input' : a.name}`;
    });
  return `${s.name}(${args.join(', ')})`;
}

function sortOverloads(list: Schema[]): Schema[] {
  const keyed = list.map((s) => [pySortKey(s), s] as const);
  keyed.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const rest = keyed.map((k) => k[1]);
  const out: Schema[] = [];
  while (rest.length) {
    // the first one that nothing remaining is larger than
    const i = rest.findIndex((s) => !rest.some((o) => o !== s && isSmaller(s, o)));
    out.push(...rest.splice(Math.max(i, 0), 1));
  }
  return out;
}

// ---- Python's binding rules ----------------------------------------------------------------------
/** Ops whose Tensor parameters take Python numbers too (python_arg_parser.cpp). */
const NUMBERS_AS_TENSORS = new Set([
  'add',
  'add_',
  'div',
  'div_',
  'divide',
  'divide_',
  'mul',
  'mul_',
  'multiply',
  'multiply_',
  'sub',
  'sub_',
  'subtract',
  'subtract_',
  'true_divide',
  'true_divide_',
  'to',
  '_to_copy',
  'copy_',
  'floor_divide',
  'floor_divide_',
]);
/** Overloads Python does not bind (torchgen's SKIP_PYTHON_BINDINGS_SIGNATURES): their numbers go to the Tensor overload. */
const SKIPPED = new Set([
  'add.Scalar',
  'add_.Scalar',
  'sub.Scalar',
  'sub_.Scalar',
  'mul.Scalar',
  'mul_.Scalar',
  'div.Scalar',
  'div_.Scalar',
]);
/** Parameter types this package cannot pass: overloads that take them are not tried. */
const UNSUPPORTED = new Set(['Dimname', 'Storage', 'Stream', 'QScheme', 'ConstQuantizerPtr', 'Any', 'AnyEnumType']);

/** The c10::ScalarType codes of the dtype names (c10/core/ScalarType.h). */
const SCALAR_TYPE: Record<string, number> = {
  uint8: 0,
  int8: 1,
  int16: 2,
  int32: 3,
  int64: 4,
  float16: 5,
  float32: 6,
  float64: 7,
  complex32: 8,
  complex64: 9,
  complex128: 10,
  bool: 11,
  bfloat16: 15,
};
const SCALAR_TYPE_NAME: string[] = [];
for (const [k, v] of Object.entries(SCALAR_TYPE)) SCALAR_TYPE_NAME[v] = k;
const MEMORY_FORMAT: Record<string, number> = {
  contiguous_format: 0,
  contiguousFormat: 0,
  preserve_format: 1,
  preserveFormat: 1,
  channels_last: 2,
  channelsLast: 2,
  channels_last_3d: 3,
  channelsLast3d: 3,
};

// ---- binding ----------------------------------------------------------------------------------

const FAIL = Symbol('no match');
type Converted = unknown;

/** Why a value does not fit a parameter (for the message), or the value as the native call takes it. */
interface Ctx {
  numbersAsTensors: boolean;
  wrap: number;
  /** the JS tensors given for write-aliased parameters, by schema index */
  writes: (Tensor | undefined)[];
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

function tensorItem(t: Tensor): number | boolean | undefined {
  if (t._disposed || t.ndim !== 0) return undefined;
  const v = t.item();
  return t.dtype === 'bool' ? v !== 0 : v;
}

function convertOne(
  base: string,
  v: unknown,
  idx: number,
  ctx: Ctx,
  numbers = ctx.numbersAsTensors,
): Converted | typeof FAIL {
  switch (base) {
    case 'Tensor':
      if (v instanceof Tensor) return v._h;
      if (numbers && (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint')) {
        if (idx < 32) ctx.wrap |= 1 << idx;
        return v;
      }
      return FAIL;
    case 'int':
    case 'SymInt':
      if (isInt(v) || typeof v === 'bigint') return v;
      if (v instanceof Tensor && !v._disposed && v.ndim === 0 && /int|uint/.test(v.dtype)) return tensorItem(v);
      return FAIL;
    case 'float':
      if (typeof v === 'number' || typeof v === 'bigint') return typeof v === 'bigint' ? Number(v) : v;
      if (v instanceof Tensor && !v._disposed && v.ndim === 0 && v.dtype !== 'bool') return tensorItem(v);
      return FAIL;
    case 'bool':
      return typeof v === 'boolean' ? v : FAIL;
    case 'Scalar':
      if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return v;
      if (v instanceof Tensor && !v._disposed && v.ndim === 0 && !v.requiresGrad) return tensorItem(v);
      return FAIL;
    case 'str':
      return typeof v === 'string' ? v : FAIL;
    case 'ScalarType':
      return typeof v === 'string' && v in SCALAR_TYPE ? SCALAR_TYPE[v] : FAIL;
    case 'Layout':
      return v === 'strided' ? 0 : FAIL;
    case 'Device':
      return typeof v === 'string' ? v : FAIL;
    case 'MemoryFormat':
      return typeof v === 'string' && v in MEMORY_FORMAT ? MEMORY_FORMAT[v] : FAIL;
    default:
      return FAIL;
  }
}

const EXPECTED: Record<string, string> = {
  Tensor: 'a Tensor',
  int: 'an integer',
  SymInt: 'an integer',
  float: 'a number',
  bool: 'a boolean',
  Scalar: 'a number, boolean or bigint',
  str: 'a string',
  ScalarType: 'a dtype name (float32, int64, ...)',
  Layout: "'strided'",
  Device: 'a device string',
  MemoryFormat: "a memory format ('contiguous_format', 'preserve_format', 'channels_last')",
  Generator: 'a torch.Generator',
};

/** What a parameter expects, in words. */
export function expectedOf(t: SchemaType, ctx?: { numbersAsTensors: boolean }): string {
  const one =
    t.base === 'Tensor' && !t.list && ctx?.numbersAsTensors ? 'a Tensor or a number' : (EXPECTED[t.base] ?? t.base);
  let s = t.list
    ? t.base === 'Tensor'
      ? `an array of Tensors${t.elemOptional ? ' or nulls' : ''}`
      : `an array of ${one.replace(/^an? /, '')}s`
    : one;
  if (t.list && t.size !== undefined && t.base !== 'Tensor')
    s = t.size === 1 ? `${one} or ${s}` : `${one} or ${s} (of length ${t.size})`;
  return t.optional ? `${s} or null` : s;
}

let generatorClass: typeof import('./generator').Generator | undefined;
/** The native handle of a torch.Generator (generator.ts imports tensor.ts, which imports this module: reached at call time). */
function generatorOf(v: unknown): unknown {
  if (generatorClass === undefined) generatorClass = (require('./generator') as typeof import('./generator')).Generator;
  return v instanceof generatorClass ? v._g : undefined;
}

function convert(arg: SchemaArg, v: unknown, idx: number, ctx: Ctx): Converted | typeof FAIL {
  const t = arg.type;
  if (v === null) return t.optional || t.base === 'Generator' ? null : FAIL;
  if (t.base === 'Generator') return generatorOf(v) ?? FAIL;
  if (t.write && v instanceof Tensor) ctx.writes[idx] = v;
  if (!t.list) return convertOne(t.base, v, idx, ctx, ctx.numbersAsTensors && !t.write);
  // a single value where PyTorch takes int[N] (or int[1] for a dim): repeated N times
  if (!Array.isArray(v)) {
    if (t.size !== undefined && t.base !== 'Tensor' && t.base !== 'bool') {
      const one = convertOne(t.base, v, idx, ctx);
      return one === FAIL ? FAIL : new Array(t.size).fill(one);
    }
    // a 1-D integer tensor where PyTorch takes an int list (x.view(torch.tensor([2, 3])) is refused there too)
    return FAIL;
  }
  const out: unknown[] = [];
  for (const e of v) {
    if ((e === null || e === undefined) && t.elemOptional) {
      out.push(null);
      continue;
    }
    const c = t.base === 'Tensor' ? (e instanceof Tensor ? e._h : FAIL) : convertOne(t.base, e, 99, ctx);
    if (c === FAIL) return FAIL;
    out.push(c);
  }
  return out;
}

/** A plain object given as the last argument: the keyword arguments. */
function isOptions(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Tensor) return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

interface Bound {
  schema: Schema;
  values: unknown[];
  wrap: number;
  writes: (Tensor | undefined)[];
}

/** Binds a call to one overload, or returns why it does not fit. */
function bind(
  s: Schema,
  self: Tensor | undefined,
  pos: unknown[],
  opts: Record<string, unknown> | undefined,
  numbersAsTensors: boolean,
  explain: boolean,
  lenient = false,
): Bound | string {
  const args = s.args;
  const n = args.length;
  const ctx: Ctx = { numbersAsTensors, wrap: 0, writes: s.writes ? [] : NO_WRITES };
  const values: unknown[] = new Array(n);
  let params = s.positional;
  if (self !== undefined) {
    const i = s.selfIndex;
    if (i < 0) return explain ? 'it has no self argument' : '';
    const c = convert(args[i], self, i, ctx);
    if (c === FAIL) return explain ? `self must be ${expectedOf(args[i].type)}` : '';
    values[i] = c;
    params = s.positionalNoSelf;
  }
  let positional = pos;
  // varargs: x.view(2, 3), torch.zeros(2, 3), x.permute(1, 0): the ints from an int-list parameter on
  // (Python allows it for the first positional parameter only: x.flip(0) but not torch.flip(x, 0))
  const li = self !== undefined ? s.varargsNoSelf : s.varargs;
  if (li === 0 && pos.length > 0 && allInts(pos, 0)) positional = [pos];
  if (positional.length > params.length)
    return explain ? `it takes ${params.length} positional argument(s), got ${positional.length}` : '';
  for (let k = 0; k < positional.length; k++) {
    const v = positional[k];
    if (v === undefined) continue;
    const i = params[k];
    const c = convert(args[i], v, i, ctx);
    if (c === FAIL)
      return explain
        ? `${rangeMark(args[i], v)}argument '${args[i].key}' (position ${k + 1}) must be ${expectedOf(args[i].type, ctx)}${gotOf(args[i], v)}`
        : '';
    values[i] = c;
  }
  if (opts !== undefined) {
    for (const key in opts) {
      if (!Object.hasOwn(opts, key)) continue;
      const v = opts[key];
      const i = s.keyIndex.get(key);
      if (i === undefined) {
        const guess = suggestOption(key, [...s.keyIndex.keys()]);
        return explain ? `unknown option '${key}'${guess ? `, did you mean '${guess}'?` : ''}` : '';
      }
      if (values[i] !== undefined) return explain ? `argument '${key}' given twice (by position and as an option)` : '';
      if (v === undefined) continue;
      const c = convert(args[i], v, i, ctx);
      if (c === FAIL)
        return explain
          ? `${rangeMark(args[i], v)}option '${key}' must be ${expectedOf(args[i].type, ctx)}${gotOf(args[i], v)}`
          : '';
      values[i] = c;
    }
  }
  for (const i of lenient ? s.requiredLenient : s.required)
    if (values[i] === undefined)
      return explain ? `missing argument '${args[i].key}' (${expectedOf(args[i].type)})` : '';
  return { schema: s, values, wrap: ctx.wrap, writes: ctx.writes };
}

const NO_WRITES: (Tensor | undefined)[] = [];

/**
 * Marks a reason as a value out of range rather than of the wrong type: a number that is not an
 * integer (0.5, NaN, Infinity) where an integer goes. Such a call throws a RangeError, as the
 * package's hand-written checks do.
 */
const RANGE = '\u0000range:';
function rangeMark(a: SchemaArg, v: unknown): string {
  const b = a.type.base;
  if (b !== 'int' && b !== 'SymInt') return '';
  const bad = (x: unknown) => typeof x === 'number' && !Number.isInteger(x);
  return bad(v) || (a.type.list && Array.isArray(v) && v.some(bad)) ? RANGE : '';
}

/** `, got ...`: the value, or for a list the first element that does not fit (`dim[1]`). */
function gotOf(a: SchemaArg, v: unknown): string {
  if (a.type.list && Array.isArray(v) && a.type.base !== 'Tensor') {
    const k = v.findIndex(
      (x) => !(x === null && a.type.elemOptional) && convertOne(a.type.base, x, 99, { ...SCRATCH }) === FAIL,
    );
    if (k >= 0) return `, got ${describe(v[k])} at ${a.key}[${k}]`;
  }
  return `, got ${describe(v)}`;
}
const SCRATCH: Ctx = { numbersAsTensors: false, wrap: 0, writes: [] };

function allInts(a: unknown[], from: number): boolean {
  for (let k = from; k < a.length; k++) if (!isInt(a[k])) return false;
  return true;
}

// ---- the overload table ------------------------------------------------------------------------

interface OpSet {
  /** `aten::topk` */
  qualified: string;
  /** the overloads a call without out arguments tries, in PyTorch's order */
  plain: Schema[];
  /** the overloads with out arguments (tried when an option names one) */
  out: Schema[];
  all: Schema[];
  /** the keywords that select an out overload (`out`, `values`, ...) */
  outKeys: Set<string>;
  /** Python passes numbers to this op's Tensor parameters (as wrapped numbers) */
  numbersAsTensors: boolean;
}
const opSets = new Map<string, OpSet>();

/**
 * Overloads for named tensors (PyTorch's prototype feature, which this package does not expose).
 * The dispatcher prints their `Dimname` parameters as `str`, so they are told by their overload
 * names (`max.names_dim`, `sum.dim_DimnameList`, ...), as native_functions.yaml spells every one.
 */
const NAMED_OVERLOAD = /dimname|names|ellipsis_idx|named_out/i;
const NAMED_OPS = new Set(['aten::align_to', 'aten::refine_names', 'aten::rename', 'aten::rename_']);
function isNamedTensorOverload(s: Schema): boolean {
  return NAMED_OVERLOAD.test(s.overload) || NAMED_OPS.has(s.name);
}
/** Forgets the looked-up names (a library loaded since may register more overloads). */
export function clearOpSets(): void {
  opSets.clear();
}

/** The overloads of `aten::name` (or `ns::name`), from the running libtorch; undefined if none. */
export function opSet(qualified: string): OpSet | undefined {
  let set = opSets.get(qualified);
  if (set === undefined) {
    const all = N.atenSchemas(qualified).map(([id, text]) => parseSchema(id, text));
    if (all.length === 0) return undefined;
    const usable = all.filter(
      (s) =>
        !isNamedTensorOverload(s) &&
        !s.args.some((a) => UNSUPPORTED.has(a.type.base)) &&
        !SKIPPED.has(`${s.name.slice(s.name.indexOf('::') + 2)}${s.overload ? `.${s.overload}` : ''}`),
    );
    const out = sortOverloads(usable.filter((s) => s.outArgs.length > 0));
    set = {
      qualified,
      plain: sortOverloads(usable.filter((s) => s.outArgs.length === 0)),
      out,
      all,
      outKeys: new Set(out.flatMap((s) => s.outArgs.map(camel))),
      numbersAsTensors: NUMBERS_AS_TENSORS.has(qualified.slice(qualified.indexOf('::') + 2)),
    };
    opSets.set(qualified, set);
  }
  return set;
}

/** `(Tensor input, int k, int dim=-1, *, bool largest=True)` in camelCase: a line of an error message. */
export function signatureOf(s: Schema, method: boolean): string {
  const parts: string[] = [];
  let star = false;
  for (const a of s.args) {
    if (method && a.name === 'self') continue;
    if (a.kwargOnly && !star) {
      parts.push('*');
      star = true;
    }
    const name = a.name === 'self' ? 'input' : a.key;
    parts.push(`${a.type.text} ${name}${a.default !== undefined ? `=${a.default}` : ''}`);
  }
  return `(${parts.join(', ')})`;
}

function describeArgs(self: Tensor | undefined, pos: unknown[], opts: Record<string, unknown> | undefined): string {
  // (an array shows its first 8 elements: a huge or sparse one must not make a huge message)
  const d = (v: unknown): string =>
    v instanceof Tensor
      ? 'Tensor'
      : Array.isArray(v)
        ? `[${Array.from(v.slice(0, 8), d).join(', ')}${v.length > 8 ? `, ... (${v.length})` : ''}]`
        : v === null
          ? 'null'
          : typeof v;
  const parts = pos.map(d);
  if (self !== undefined) parts.unshift('self: Tensor');
  if (opts !== undefined) for (const [k, v] of Object.entries(opts)) parts.push(`${k}: ${d(v)}`);
  return `(${parts.join(', ')})`;
}

/** Resolves one call to an overload (PyTorch's order), or throws the message PyTorch would, in our words. */
export function resolveCall(fn: string, set: OpSet, self: Tensor | undefined, args: unknown[], only?: Schema): Bound {
  let pos = args;
  let opts: Record<string, unknown> | undefined;
  const last = pos.length - 1;
  if (last >= 0 && isOptions(pos[last])) {
    opts = pos[last] as Record<string, unknown>;
    pos = pos.slice(0, last);
  }
  // trailing undefined positionals are "not given"
  while (pos.length > 0 && pos[pos.length - 1] === undefined) pos = pos.slice(0, -1);
  let candidates: Schema[];
  if (only !== undefined) candidates = [only];
  else {
    let wantsOut = false;
    if (opts !== undefined && set.outKeys.size > 0) for (const k in opts) if (set.outKeys.has(k)) wantsOut = true;
    candidates = wantsOut ? set.out : set.plain;
  }
  for (const s of candidates) {
    const b = bind(s, self, pos, opts, set.numbersAsTensors, false);
    if (typeof b !== 'string') return b;
  }
  // No overload takes the call as Python's parser would. A second pass lets an optional argument
  // without a default be None (PyTorch 2.x gives most of them `=None`): `x.var({correction: 0})`
  // and `x.sum({keepdim: true})` reduce every dim here, as in PyTorch 2.x, where 1.13 refuses.
  for (const s of candidates) {
    const b = bind(s, self, pos, opts, set.numbersAsTensors, false, true);
    if (typeof b !== 'string') return b;
  }
  // a keyword no overload knows: say so once, with the known ones (as checkOptions does)
  if (opts !== undefined) {
    const known = new Set<string>();
    for (const s of candidates) for (const k of s.keyIndex.keys()) known.add(k);
    for (const k of Object.keys(opts)) if (!known.has(k)) throw unknownOptionError(fn, k, [...known]);
  }
  // no overload fits: bind again, this time collecting why
  const reasons = candidates.map((s) => bind(s, self, pos, opts, set.numbersAsTensors, true) as string);
  if (candidates.length === 0) {
    const kinds = set.all.map((s) => signatureOf(s, false)).join('; ');
    throw new TypeError(`${fn}: no overload of ${set.qualified} takes arguments this package can pass: ${kinds}`);
  }
  const ranged = reasons.find((r) => r.startsWith(RANGE));
  if (ranged !== undefined) throw new RangeError(`${fn}: ${ranged.slice(RANGE.length)}`);
  if (candidates.length === 1) throw new TypeError(`${fn}: ${reasons[0]}`);
  const lines = candidates.map((s, i) => `  ${signatureOf(s, self !== undefined)}: ${reasons[i]}`);
  throw new TypeError(
    `${fn}: no overload matches ${describArgsSafe(self, pos, opts ?? {})}; PyTorch's overloads:\n${lines.join('\n')}`,
  );
}

function describArgsSafe(self: Tensor | undefined, pos: unknown[], opts: Record<string, unknown>): string {
  return describeArgs(self, pos, Object.keys(opts).length ? opts : undefined);
}

/** A named-tuple result: an array that also carries PyTorch's field names (`{values, indices}`). */
export type NamedResult<T extends unknown[], Fields extends Record<string, unknown>> = T & Fields;

function wrapResult(v: unknown, t: SchemaType): unknown {
  if (v === null || v === undefined) return v ?? null;
  if (t.base === 'Tensor') {
    if (t.list) return (v as (Handle | null)[]).map((h) => (h === null ? null : new Tensor(h)));
    return new Tensor(v as Handle);
  }
  if (t.base === 'ScalarType') return SCALAR_TYPE_NAME[v as number] as DType;
  return v;
}

/** Calls a bound overload and shapes its results as PyTorch returns them. */
export function callBound(fn: string, b: Bound): unknown {
  const s = b.schema;
  if (CONVOLUTIONS.has(s.name)) beforeConv();
  let raw: unknown;
  try {
    const v = b.values;
    // fixed arities for the common sizes: a spread call costs more than the op's own JS work
    switch (v.length) {
      case 1:
        raw = N.atenCall(s.id, b.wrap, v[0]);
        break;
      case 2:
        raw = N.atenCall(s.id, b.wrap, v[0], v[1]);
        break;
      case 3:
        raw = N.atenCall(s.id, b.wrap, v[0], v[1], v[2]);
        break;
      case 4:
        raw = N.atenCall(s.id, b.wrap, v[0], v[1], v[2], v[3]);
        break;
      default:
        raw = N.atenCall(s.id, b.wrap, ...v);
    }
  } catch (e) {
    throw retitle(e, s, fn);
  }
  const rets = s.returns;
  const n = rets.length;
  if (n === 1) {
    // the common case: one Tensor
    if (s.simpleTensorResult) return raw === null ? null : new Tensor(raw as Handle);
    return resultOf(s, b, raw, 0);
  }
  if (n === 0) return undefined;
  // (a for loop: results written in place come back as holes, which map() would skip)
  const got = raw as unknown[];
  const arr: unknown[] = new Array(n);
  for (let k = 0; k < n; k++) arr[k] = resultOf(s, b, got[k], k);
  for (let k = 0; k < n; k++) {
    const name = rets[k].name;
    if (name !== undefined) (arr as unknown as Record<string, unknown>)[name] = arr[k];
  }
  return arr;
}

/** Result k: the JS tensor given for an argument it aliases in place, or the converted value. */
function resultOf(s: Schema, b: Bound, v: unknown, k: number): unknown {
  const t = s.returns[k].type;
  if (t.write && t.alias !== undefined) {
    const i = s.args.findIndex((a) => a.type.alias === t.alias && a.type.write);
    if (i >= 0 && b.writes[i] !== undefined) return b.writes[i];
  }
  return wrapResult(v, t);
}

/** libtorch's messages name the op as `aten::div.Tensor_mode: ...`; ours name the JS call. */
function retitle(e: unknown, s: Schema, fn: string): unknown {
  if (!(e instanceof Error)) return e;
  const display = `<${s.name}${s.overload ? `.${s.overload}` : ''}>`;
  if (e.message.startsWith(display)) e.message = `${fn}${e.message.slice(display.length)}`;
  // The dispatcher's "Could not run 'aten::x' with arguments from the 'CPU' backend. ..." runs to
  // dozens of lines of registration sites: keep what it means.
  const m =
    /Could not run '([^']+)' with arguments from the '([^']+)' backend[\s\S]*?only available for these backends: \[([^\]]*)\]/.exec(
      e.message,
    );
  if (m) {
    const backends = m[3]
      .split(',')
      .map((b) => b.trim())
      .filter(
        (b) =>
          b &&
          !/^(Meta|Batched|Python|Functionalize|Named|Conjugate|Negative|ZeroTensor|ADInplaceOrView|Autograd|Tracer|Autocast|Functionalize|FuncTorch|VmapMode|Sparse.*Meta|BackendSelect|PreDispatch|PythonTLSSnapshot|PythonDispatcher)/.test(
            b,
          ),
      );
    e.message = `${fn}: ${m[1]} has no kernel for ${m[2]} tensors of this layout (it runs on: ${backends.join(', ') || 'none here'})`;
  }
  return e;
}

/** Calls `qualified` (`aten::topk`) with a JS call's arguments, as PyTorch's Python binding would. */
export function callOp(fn: string, qualified: string, self: Tensor | undefined, args: unknown[]): unknown {
  const set = opSet(qualified);
  if (set === undefined) throw new TypeError(`${fn}: this libtorch has no operator ${qualified}`);
  return callBound(fn, resolveCall(fn, set, self, args));
}

// ---- the generated surface's factories --------------------------------------------------------

/** The convolution entry points: the first one runs the oneDNN convolution self-check (lib/backends.ts). */
const CONVOLUTIONS = new Set(
  [
    'conv1d',
    'conv2d',
    'conv3d',
    'convolution',
    '_convolution',
    'conv_transpose1d',
    'conv_transpose2d',
    'conv_transpose3d',
  ].map((n) => `aten::${n}`),
);

/** Marks the functions made here (tests and the generator tell them from hand-written ones). */
export const GENERATED = Symbol.for('torch-napi.generated');

/** `torch.topk` and friends: a function calling `aten::<name>`. */
export function opFunction<F>(name: string, display: string, qualified = `aten::${name}`): F {
  let set: OpSet | undefined; // looked up on the first call, then kept (a Map lookup per call shows)
  const f = (...args: unknown[]): unknown => {
    set ??= opSet(qualified);
    if (set === undefined) throw new TypeError(`${display}: this libtorch has no operator ${qualified}`);
    return callBound(display, resolveCall(display, set, undefined, args));
  };
  Object.defineProperty(f, 'name', { value: display.slice(display.lastIndexOf('.') + 1) });
  Object.defineProperty(f, GENERATED, { value: qualified });
  return f as F;
}

/** `x.topk(...)`: a method calling `aten::<name>` with the tensor as `self`. */
export function opMethod<F>(name: string, display: string): F {
  const qualified = `aten::${name}`;
  let set: OpSet | undefined;
  const f = function (this: Tensor, ...args: unknown[]): unknown {
    if (!(this instanceof Tensor)) throw new TypeError(`${display}: called on ${describe(this)}, not a Tensor`);
    if (this._disposed)
      throw new Error(`${display}: this tensor is disposed (it was freed by dispose() or torch.tidy)`);
    set ??= opSet(qualified);
    if (set === undefined) throw new TypeError(`${display}: this libtorch has no operator ${qualified}`);
    return callBound(display, resolveCall(display, set, this, args));
  };
  Object.defineProperty(f, 'name', { value: display.slice(display.lastIndexOf('.') + 1) });
  Object.defineProperty(f, GENERATED, { value: qualified });
  return f as F;
}

/** Every registered operator name with its overload (`aten::add.Tensor`, ...). */
export function allOpNames(): string[] {
  return N.atenNames();
}

export { DTYPES };
