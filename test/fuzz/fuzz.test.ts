// The seeded API fuzzer (test/fuzz/fuzz.js) as a test: a fixed seed, enough calls to cover every
// target many times. The invariant: every call returns or throws an Error (subclass) with a
// non-empty message that no unchecked argument produced; the process never aborts, segfaults or
// hangs, not even in its teardown; no tensors are left behind; every category fails the test.
// The calls come from fast-check (one run of fc.check per call): a problem shrinks to a minimal
// call to the same target, which `--seed S --replay PATH` runs again.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import * as fc from 'fast-check';

interface Shrunk {
  runs: number;
  path?: string;
  call?: string;
  repro?: string;
  replay?: string;
  reproduced?: boolean | null;
}
interface Problem {
  kind: string;
  shrunk?: Shrunk;
  seed: number;
  index: number | null;
  description?: string;
  target?: string;
  call?: string;
  repro?: string;
}
interface Unchecked {
  kind: 'unvalidated' | 'noisy';
  n: number;
  index: number;
  target: string;
  errorClass: string;
  message: string;
  repro: string;
}
interface Report {
  ok: boolean;
  calls: number;
  executed: number;
  returns: number;
  crashes: Problem[];
  hangs: Problem[];
  nonErrorThrows: Problem[];
  emptyMessages: Problem[];
  leaks: Problem[];
  scopeErrors: Problem[];
  harnessProblems: (Problem & { exitCode?: number | null; signal?: string | null; output?: string })[];
  unvalidated: Unchecked[];
  memory: { tensorsAtStart: number | null; tensorsAtEnd: number | null; leakedTensors: number };
}
interface Plan {
  index: number;
  target: string;
  decls: string[];
  call: string;
  torchSeed: number;
}
interface Fuzzer {
  run(opts: {
    calls?: number;
    seed?: number;
    timeSec?: number;
    verbose?: boolean;
    entry?: string;
    shrinkRuns?: number;
  }): Promise<Report>;
  summary(report: Report): string;
  problems(report: Report): string[];
  buildTargets(torch: unknown): unknown[];
  plansFor(targets: unknown[], seed: number, start: number, count: number): Plan[];
  planCall(targets: unknown[], seed: number, index: number): Plan;
  planAt(targets: unknown[], seed: number, path: string): Plan;
  CallArbitrary: new (targets: unknown[]) => fc.Arbitrary<Plan>;
}

// Tests run from the repository root (the compiled test lives in dist-test/test/fuzz/).
const fuzzer: Fuzzer = require(path.join(process.cwd(), 'test/fuzz/fuzz.js'));

// The library as this test run compiled it (dist-test/lib), else the package's dist/.
const compiled = path.join(process.cwd(), 'dist-test/lib/index.js');
const ENTRY = fs.existsSync(compiled) ? compiled : undefined;
const SEED = 20240601;
const CALLS = 10000;

function list(problems: Problem[]): string {
  return problems
    .map(
      (p) =>
        `\n  ${p.kind} at seed ${p.seed} index ${p.index}: ${p.description ?? `${p.target}: ${p.call}`}` +
        (p.repro ? `\n    ${p.repro.split('\n').join('\n    ')}` : ''),
    )
    .join('');
}

describe('API fuzzing (test/fuzz/fuzz.js)', function () {
  this.timeout(180000);
  let report: Report;

  before(async () => {
    report = await fuzzer.run({ calls: CALLS, seed: SEED, entry: ENTRY });
  });

  it(`runs ${CALLS} calls of seed ${SEED}, many of which return normally`, () => {
    expect(report.executed, fuzzer.summary(report)).to.equal(CALLS);
    // a fifth of the calls go to operators picked from the dispatcher, mostly with hostile
    // arguments built from their schemas (see fuzz.js), so fewer return than before that family
    expect(report.returns / report.calls, 'fraction of calls that returned').to.be.above(0.15);
  });

  it('never crashes the process', () => {
    expect(report.crashes, `crashes:${list(report.crashes)}`).to.have.length(0);
  });

  it('never hangs', () => {
    expect(report.hangs, `hangs:${list(report.hangs)}`).to.have.length(0);
  });

  it('throws only Errors', () => {
    expect(report.nonErrorThrows, `non-Error throws:${list(report.nonErrorThrows)}`).to.have.length(0);
  });

  it('throws only errors with a message', () => {
    expect(report.emptyMessages, `errors with an empty message:${list(report.emptyMessages)}`).to.have.length(0);
  });

  it('leaves the live tensor count where it started', () => {
    const m = report.memory;
    expect(Math.abs(m.leakedTensors), `live tensors went from ${m.tensorsAtStart} to ${m.tensorsAtEnd}`).to.be.at.most(
      5,
    );
  });

  it('no call leaks tensors (after a GC)', () => {
    expect(report.leaks, `leaking calls:${list(report.leaks)}`).to.have.length(0);
  });

  it("no call's tidy or dispose fails afterwards", () => {
    expect(report.scopeErrors, `tidy / dispose failures:${list(report.scopeErrors)}`).to.have.length(0);
  });

  it('the harness has no problem (children that fail before their first call, or in their teardown after done)', () => {
    expect(
      report.harnessProblems,
      `harness problems:${list(report.harnessProblems)}` +
        report.harnessProblems.map((p) => (p.output ? `\n  output: ${p.output.slice(-1500)}` : '')).join(''),
    ).to.have.length(0);
  });

  it('every argument is validated: no JavaScript runtime error or C++ backtrace escapes ("unchecked arguments")', () => {
    const found = report.unvalidated
      .map(
        (u) =>
          `\n  ${u.kind} at seed ${SEED} index ${u.index} (${u.n}x): ${u.target}: ${u.errorClass}: ` +
          `${u.message.split('\n')[0].slice(0, 200)}\n    ${u.repro.split('\n').join('\n    ')}`,
      )
      .join('');
    expect(report.unvalidated, `unchecked arguments:${found}`).to.have.length(0);
  });

  it('report.ok, and problems() lists nothing (every category above counts)', () => {
    expect(fuzzer.problems(report), fuzzer.summary(report)).to.deep.equal([]);
    expect(report.ok, fuzzer.summary(report)).to.equal(true);
  });
});

// The harness itself: a child that reported `done` and then dies in its teardown (a finalizer
// crashing, an exit handler failing) must not pass. The entry below is the library, plus an exit
// handler that fails — only in the fuzzer's child, never in this process.
describe('API fuzzing: the harness reports a child that fails after done', function () {
  this.timeout(120000);
  const entryWith = (exitHandler: string): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tnapi-fuzz-entry-'));
    const file = path.join(dir, 'entry.js');
    fs.writeFileSync(
      file,
      `module.exports = require(${JSON.stringify(ENTRY ?? path.join(process.cwd(), 'dist/index.js'))});\n` +
        `if (process.argv.includes('--child') && typeof process.send === 'function') process.on('exit', () => { ${exitHandler} });\n`,
    );
    return file;
  };

  for (const [what, handler, expected] of [
    ['a non-zero exit code', 'process.exitCode = 7;', /exited with code 7 after reporting done/],
    [
      'a signal (SIGABRT, as an abort in a finalizer gives)',
      "process.kill(process.pid, 'SIGABRT');",
      /killed by signal SIGABRT after reporting done/,
    ],
  ] as const) {
    it(what, async () => {
      const entry = entryWith(handler);
      try {
        const r = await fuzzer.run({ calls: 20, seed: SEED, entry });
        expect(r.executed, 'the calls themselves ran').to.equal(20);
        expect(r.crashes, 'not a crash of a call').to.have.length(0);
        expect(r.harnessProblems.map((p) => p.kind)).to.deep.equal(['child failed after done']);
        expect(r.harnessProblems[0].description).to.match(expected);
        expect(r.ok).to.equal(false);
        expect(fuzzer.problems(r).join('\n')).to.match(expected);
      } finally {
        fs.rmSync(path.dirname(entry), { recursive: true, force: true });
      }
    });
  }
});

// The calls are fast-check's: call i of a seed is run i of fc.check, alone or in a run, and a
// failing property shrinks a call to the same target, which its path replays.
describe('API fuzzing: calls drawn by fast-check', () => {
  const targets = fuzzer.buildTargets(require(ENTRY ?? path.join(process.cwd(), 'dist/index.js')));
  const same = (a: Plan, b: Plan) =>
    a.call === b.call &&
    a.target === b.target &&
    a.torchSeed === b.torchSeed &&
    a.decls.join('\n') === b.decls.join('\n');

  it('call i of a seed is the same alone as in a batch (its fast-check path is i)', () => {
    const batch = fuzzer.plansFor(targets, SEED, 40, 20);
    for (const i of [40, 47, 59])
      expect(same(fuzzer.planCall(targets, SEED, i), batch[i - 40]), `call ${i}`).to.equal(true);
    expect(same(fuzzer.planCall(targets, SEED, 41), batch[0])).to.equal(false);
  });

  it('a failing property shrinks to a smaller call to the same target, and its path replays it', () => {
    const declared = (p: Plan) => p.decls.length;
    const r = fc.check(
      fc.property(new fuzzer.CallArbitrary(targets), (p) => declared(p) < 2),
      { seed: SEED, numRuns: 500 },
    );
    expect(r.failed, 'some call declares two arguments').to.equal(true);
    const found = r.counterexample![0];
    expect(declared(found)).to.be.at.least(2);
    expect(r.counterexamplePath).to.match(/^\d+(:\d+)+$/);
    const first = fuzzer.planCall(targets, SEED, Number(r.counterexamplePath!.split(':')[0]));
    expect(found.target).to.equal(first.target);
    expect(declared(first)).to.be.at.least(declared(found));
    expect(same(fuzzer.planAt(targets, SEED, r.counterexamplePath!), found)).to.equal(true);
  });
});

// The harness shrinks what it finds: the entry below is the library with a few Tensor methods that
// throw a string (only in the fuzzer's children), as a bug would.
describe('API fuzzing: a problem shrinks to a minimal call with a replay command', function () {
  this.timeout(120000);
  it('a non-Error throw', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tnapi-fuzz-entry-'));
    const entry = path.join(dir, 'entry.js');
    fs.writeFileSync(
      entry,
      `module.exports = require(${JSON.stringify(ENTRY ?? path.join(process.cwd(), 'dist/index.js'))});\n` +
        "if (process.argv.includes('--child')) for (const m of " +
        // enough common methods that the first 100 calls of the seed reach one, whatever targets are added
        "['abs', 'chunk', 'clamp', 'allclose', 'add', 'sub', 'mul', 'div', 'sum', 'mean', 'exp', 'neg', 'sqrt', " +
        "'tanh', 'sigmoid', 'relu', 'matmul', 'reshape', 'transpose', 'pow', 'max', 'min', 'softmax'])\n" +
        "  module.exports.Tensor.prototype[m] = () => { throw m + ': not an Error'; };\n",
    );
    try {
      const r = await fuzzer.run({ calls: 100, seed: SEED, entry, shrinkRuns: 8 });
      expect(r.nonErrorThrows.length, fuzzer.summary(r)).to.be.above(0);
      const p = r.nonErrorThrows[0];
      expect(p.shrunk, 'shrunk').to.not.equal(undefined);
      expect(p.shrunk!.runs).to.be.within(1, 8);
      expect(p.shrunk!.call).to.match(new RegExp(`^${p.target}: `));
      expect(p.shrunk!.replay).to.match(
        new RegExp(`^node test/fuzz/fuzz\\.js --seed ${SEED} --replay ${p.index}(:\\d+)*$`),
      );
      expect(p.shrunk!.repro!.length).to.be.at.most(p.repro!.length);
      expect(fuzzer.problems(r).join('\n')).to.include(`replay: ${p.shrunk!.replay}`);
      expect(r.ok).to.equal(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
