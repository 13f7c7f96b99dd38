// The seeded API fuzzer (scripts/fuzz.js) as a test: a fixed seed, enough calls to cover every
// target many times. The invariant: every call returns or throws an Error (subclass) with a
// non-empty message; the process never aborts, segfaults or hangs; no tensors are left behind.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';

interface Problem {
  kind: string;
  seed: number;
  index: number | null;
  description?: string;
  target?: string;
  call?: string;
  repro?: string;
}
interface Report {
  calls: number;
  executed: number;
  returns: number;
  crashes: Problem[];
  hangs: Problem[];
  nonErrorThrows: Problem[];
  emptyMessages: Problem[];
  memory: { tensorsAtStart: number | null; tensorsAtEnd: number | null; leakedTensors: number };
}
interface Fuzzer {
  run(opts: { calls?: number; seed?: number; timeSec?: number; verbose?: boolean; entry?: string }): Promise<Report>;
  summary(report: Report): string;
}

// Tests run from the repository root (the compiled test lives in dist-test/test/fuzz/).
// eslint-disable-next-line @typescript-eslint/no-var-requires
const fuzzer: Fuzzer = require(path.join(process.cwd(), 'scripts/fuzz.js'));

// The library as this test run compiled it (dist-test/lib), else the package's dist/.
const compiled = path.join(process.cwd(), 'dist-test/lib/index.js');
const ENTRY = fs.existsSync(compiled) ? compiled : undefined;
const SEED = 20240601;
const CALLS = 10000;

function list(problems: Problem[]): string {
  return problems.map((p) => `\n  ${p.kind} at seed ${p.seed} index ${p.index}: ${p.description ?? `${p.target}: ${p.call}`}` +
    (p.repro ? `\n    ${p.repro.split('\n').join('\n    ')}` : '')).join('');
}

describe('API fuzzing (scripts/fuzz.js)', function () {
  this.timeout(180000);
  let report: Report;

  before(async () => {
    report = await fuzzer.run({ calls: CALLS, seed: SEED, entry: ENTRY });
  });

  it(`runs ${CALLS} calls of seed ${SEED}, many of which return normally`, () => {
    expect(report.executed, fuzzer.summary(report)).to.equal(CALLS);
    expect(report.returns / report.calls, 'fraction of calls that returned').to.be.above(0.2);
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
    expect(Math.abs(m.leakedTensors), `live tensors went from ${m.tensorsAtStart} to ${m.tensorsAtEnd}`).to.be.at.most(5);
  });
});
