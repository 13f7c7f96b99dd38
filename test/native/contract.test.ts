// The contract between the two halves of the native layer: lib/native.ts's `Native` interface and
// the export tables of the built addon name the same bindings, with the same argument counts.
// Node-API functions all have `length` 0, so the addon reports each binding's count itself
// (`__exports()`, from the `{name, fn, min, max}` entries of native/*.cc); the TypeScript side is
// read from lib/native.ts with the compiler API. A count is a range: optional parameters raise
// only the maximum, a rest parameter makes it unbounded (-1).
import * as path from 'node:path';
import { expect } from 'chai';
import ts from 'typescript';

import * as torch from '../../lib';
import {
  type Handle,
  MHA_KEYS,
  type MhaCall,
  mhaArgs,
  native,
  RNN_KEYS,
  type RnnCall,
  rnnArgs,
} from '../../lib/native';
import { rejection } from '../helpers';

interface Arity {
  min: number;
  max: number;
}

/** Each property of `Native` (lib/native.ts) with the argument count of its call signature. */
export function declaredArities(file = path.join(process.cwd(), 'lib', 'native.ts')): Map<string, Arity> {
  const program = ts.createProgram([file], { strict: true, noEmit: true, types: [] });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  if (!source) throw new Error(`cannot read ${file}`);
  const decl = source.statements.find(
    (s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === 'Native',
  );
  if (!decl) throw new Error(`${file} declares no interface Native`);
  const out = new Map<string, Arity>();
  for (const prop of checker.getPropertiesOfType(checker.getTypeAtLocation(decl.name))) {
    const signatures = checker.getTypeOfSymbolAtLocation(prop, decl).getCallSignatures();
    if (signatures.length !== 1)
      throw new Error(`Native.${prop.name}: expected one call signature, got ${signatures.length}`);
    out.set(prop.name, arity(checker, signatures[0]));
  }
  return out;
}

function arity(checker: ts.TypeChecker, sig: ts.Signature): Arity {
  let min = 0;
  let max = 0;
  for (const p of sig.getParameters()) {
    const d = p.valueDeclaration;
    if (!d || !ts.isParameter(d)) throw new Error(`parameter ${p.name} has no declaration`);
    const type = checker.getTypeOfSymbolAtLocation(p, d);
    if (d.dotDotDotToken) {
      // `(...a: A)` of a mapped twin: A is the sync binding's parameter tuple.
      if (checker.isTupleType(type)) {
        const target = (type as ts.TupleTypeReference).target;
        min += target.minLength;
        max = target.hasRestElement || max < 0 ? -1 : max + target.fixedLength;
      } else max = -1;
    } else if (d.questionToken || d.initializer) {
      if (max >= 0) max++;
    } else {
      min++;
      if (max >= 0) max++;
    }
  }
  return { min, max };
}

function show(a: Arity | undefined): string {
  if (!a) return 'missing';
  return a.min === a.max ? String(a.min) : `${a.min}..${a.max < 0 ? '' : a.max}`;
}

describe('native contract: lib/native.ts and the addon', function () {
  this.timeout(60000); // the compiler reads lib/native.ts and its imports
  const built = new Map(native.__exports().map((e) => [e.name, { min: e.min, max: e.max }]));
  let declared: Map<string, Arity>;
  before(() => {
    declared = declaredArities();
  });

  it('the addon reports every function it exports, once', () => {
    const exported = Object.keys(native as object).filter(
      (k) => typeof (native as unknown as Record<string, unknown>)[k] === 'function',
    );
    expect(native.__exports().length).to.equal(built.size, 'a name is registered twice');
    expect([...built.keys()].sort()).to.deep.equal(exported.sort());
  });

  it('every binding the addon exports is declared in Native, with its argument count', () => {
    const wrong = [...built]
      .filter(([name, a]) => show(declared.get(name)) !== show(a))
      .map(([name, a]) => `${name}: addon ${show(a)}, native.ts ${show(declared.get(name))}`);
    expect(wrong).to.deep.equal([]);
  });

  it('everything Native declares is exported by the addon', () => {
    const missing = [...declared.keys()].filter((name) => !built.has(name));
    expect(missing).to.deep.equal([]);
  });

  it('counts arguments as a range: optional parameters raise the maximum, a rest parameter removes it', () => {
    expect(show(declared.get('linear'))).to.equal('2..3');
    expect(show(declared.get('linearAsync'))).to.equal('2..3'); // derived from linear (AsyncOf)
    expect(show(declared.get('mha'))).to.equal('1');
    expect(show(declared.get('runAsync'))).to.equal('1..');
    expect(show(built.get('runAsync'))).to.equal('1..');
  });
});

/** A one-layer LSTM call without hx or zero states (each test adds what it needs). */
function lstmCall(input: Handle, params: Handle[]): RnnCall {
  return {
    mode: 0,
    input,
    batchSizes: null,
    hx: [],
    params,
    hasBiases: true,
    numLayers: 1,
    dropout: 0,
    train: false,
    bidirectional: false,
    batchFirst: false,
  };
}

/** A positional binding reads option k from argument k: a bad value there is named in the error. */
function expectEachOptionNamed(fn: (...a: never[]) => unknown, args: readonly unknown[], keys: readonly string[]) {
  for (let i = 0; i < keys.length; i++) {
    const bad = [...args];
    bad[i] = Symbol('bad');
    expect(() => (fn as (...a: unknown[]) => unknown)(...bad), keys[i]).to.throw(`option '${keys[i]}'`);
  }
}

describe('native errors: one mapping for sync calls and pool workers', () => {
  // A c10::IndexError ("Dimension out of range") is an argument error: a RangeError, from the
  // sync binding (Guard) and from its Async twin (PoolWorker) alike. mha is called directly with
  // a 1-D batched query, which lib/nn refuses before the native call.
  const call = (): { call: MhaCall; temps: torch.Tensor[] } => {
    const q = torch.ones([4]);
    const w = torch.ones([12, 4]);
    const o = torch.ones([4, 4]);
    return {
      temps: [q, w, o],
      call: {
        query: q._h,
        key: q._h,
        value: q._h,
        numHeads: 1,
        batched: true,
        batchFirst: true,
        qkvSame: true,
        kvSame: true,
        inProjWeight: w._h,
        addZeroAttn: false,
        dropoutP: 0,
        training: false,
        outProjWeight: o._h,
        needWeights: false,
        averageAttnWeights: false,
      },
    };
  };

  it('mha and mhaAsync: the same RangeError', async () => {
    const { call: c, temps } = call();
    let syncError: Error | undefined;
    try {
      native.mha(c);
    } catch (e) {
      syncError = e as Error;
    }
    const asyncError = await rejection(native.mhaAsync(c));
    expect(syncError).to.be.instanceOf(RangeError);
    expect(asyncError).to.be.instanceOf(RangeError);
    expect(syncError?.message).to.match(/^F\.mha: Dimension out of range/);
    expect(asyncError.message).to.equal(syncError?.message.replace('F.mha:', 'F.mhaAsync:'));
    for (const t of temps) expect(native.inUse(t._h)).to.equal(0);
    for (const t of temps) t.dispose();
  });

  it('the options object is read by name: a missing or mistyped key is named', () => {
    const { call: c, temps } = call();
    const { query: _q, ...noQuery } = c;
    expect(() => native.mha(noQuery as MhaCall)).to.throw(
      TypeError,
      "F.mha: expected option 'query' to be a Tensor, got undefined",
    );
    expect(() => native.mha({ ...c, numHeads: 1.5 })).to.throw(
      RangeError,
      "F.mha: expected option 'numHeads' to be an integer, got 1.5",
    );
    expect(() => native.mha(3 as unknown as MhaCall)).to.throw(
      TypeError,
      'F.mha: expected argument 0 to be an options object, got the number 3',
    );
    const rnnCall = lstmCall(temps[0]._h, []);
    expect(() => native.rnn({ ...rnnCall, hx: [temps[0]._h, 'x' as unknown as number] })).to.throw(
      TypeError,
      "F.rnn: option 'hx', element 1 is not a Tensor",
    );
    expect(() => native.rnn({ ...rnnCall, zeroStates: [1, 2, -3, 4] })).to.throw(
      RangeError,
      'F.rnn: zeroStates must be [lead, N, hOut] or [lead, N, hOut, hiddenSize] of sizes >= 0',
    );
    expect(() => native.rnn({ ...rnnCall, zeroStates: [1, 2] })).to.throw(RangeError, 'zeroStates must be');
    expect(() => native.rnn({ ...rnnCall, zeroStates: 'x' as unknown as number[] })).to.throw(
      TypeError,
      "F.rnn: expected option 'zeroStates' to be an array of integers",
    );
    expect(() => native.rnn({ ...rnnCall, zeroStates: [1, 1.5, 2, 2] })).to.throw(RangeError, "option 'zeroStates'[1]");
    // without zeroStates an LSTM still needs [h0, c0]
    expect(() => native.rnn(rnnCall)).to.throw(RangeError, 'F.rnn: LSTM takes [h0, c0]');
    for (const t of temps) t.dispose();
  });

  it('the positional forms (mhaArgs, rnnArgs) read each option from its place in MHA_KEYS and RNN_KEYS', () => {
    // A valid call: (L 3, N 2, E 4) with 2 heads, a causal mask and padding.
    const q = torch.randn([3, 2, 4]);
    const kv = torch.randn([3, 2, 4]);
    const w = torch.randn([12, 4]);
    const b = torch.randn([12]);
    const o = torch.randn([4, 4]);
    const mask = torch.nn.masks.causal(3, 3);
    const pad = torch.nn.masks.keyPadding(torch.tensor([3, 2]), 3);
    const mc: MhaCall = {
      query: q._h,
      key: kv._h,
      value: kv._h,
      numHeads: 2,
      batched: true,
      batchFirst: false,
      qkvSame: false,
      kvSame: true,
      inProjWeight: w._h,
      inProjBias: b._h,
      addZeroAttn: false,
      dropoutP: 0,
      training: false,
      outProjWeight: o._h,
      attnMask: mask._h,
      keyPaddingMask: pad._h,
      needWeights: true,
      averageAttnWeights: false,
    };
    const named = native.mha(mc).map((h) => new torch.Tensor(h as never));
    const positional = native.mhaArgs(...mhaArgs(mc)).map((h) => new torch.Tensor(h as never));
    for (let i = 0; i < 2; i++) expect(positional[i].equal(named[i])).to.equal(true);
    // every option is read from its own place: a wrong value there is named in the error
    expectEachOptionNamed(native.mhaArgs, mhaArgs(mc), MHA_KEYS);
    expect(() => (native.mhaArgs as () => unknown)()).to.throw(
      TypeError,
      "F.mhaArgs: expected option 'query' to be a Tensor, got undefined",
    );
    const lstm = new torch.nn.LSTM(4, 3);
    const rc: RnnCall = {
      ...lstmCall(
        q._h,
        lstm.flatWeights.map((p) => p._h),
      ),
      zeroStates: [1, 2, 3, 3],
    };
    torch.noGrad(() => {
      const r1 = native.rnn(rc).map((h) => new torch.Tensor(h as never));
      const r2 = native.rnnArgs(...rnnArgs(rc)).map((h) => new torch.Tensor(h as never));
      expect(r2.length).to.equal(3);
      for (let i = 0; i < 3; i++) expect(r2[i].equal(r1[i])).to.equal(true);
      torch.dispose([r1, r2]);
    });
    expectEachOptionNamed(native.rnnArgs, rnnArgs(rc), RNN_KEYS);
    torch.dispose([named, positional, q, kv, w, b, o, mask, pad, lstm.parameters()]);
  });
});
