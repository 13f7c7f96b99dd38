// bench/batch_free.js's bookkeeping, not its timings: every row runs and frees what it made, the
// GC row reports how many results were alive at once, and bad options are refused.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { expect } from 'chai';

const script = path.join(process.cwd(), 'bench', 'batch_free.js');
const run = (args: string[]) => spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 120000 });

describe('bench/batch_free.js', function () {
  this.timeout(120000);

  it('times every row, frees every result and reports the GC row as the batch the GC left', () => {
    const r = run(['--expose-gc', script, '--iters', '3000', '--reps', '1', '--batches', '100,1000', '--json']);
    expect(r.status, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop() as string);
    expect(out.rows.map((x: { free: string }) => x.free)).to.deep.equal([
      'dispose each',
      'tidy blocks of 100',
      'tidy blocks of 1000',
      'left to the GC',
    ]);
    expect(out.rows.map((x: { batch: number }) => x.batch).slice(0, 3)).to.deep.equal([1, 100, 1000]);
    for (const row of out.rows) expect(row.ns, row.free).to.be.a('number').and.be.above(0);
    // up to 3000 results dropped, the first of them alive when the first sample is taken
    const gc = out.rows[3];
    expect(gc.batch).to.be.within(1, 3000);
    expect(out.leaked, 'tensors alive at the end beyond those at the start').to.equal(0);
    // PyTorch's row is there when /usr/bin/python3 has torch, and says why not otherwise
    if (out.python.ns === undefined) expect(out.python.skipped).to.be.a('string');
    else expect(out.python.before.ns).to.be.above(0);
  });

  it('refuses bad options with the usage line', () => {
    for (const [args, says] of [
      [['--size', '0'], '--size must be a positive integer (got "0")'],
      [['--batches', '10,x'], '--batches must be a positive integer (got "x")'],
      [['--reps', '1.5'], '--reps must be a positive integer (got "1.5")'],
      [['--nope'], "Unknown option '--nope'"],
    ] as const) {
      const r = run(['--expose-gc', script, ...args]);
      expect(r.status, args.join(' ')).to.equal(2);
      expect(r.stderr).to.contain(says).and.contain('usage: node --expose-gc bench/batch_free.js');
    }
    const noGc = run([script]);
    expect(noGc.status).to.equal(2);
    expect(noGc.stderr).to.contain('run it with node --expose-gc');
  });
});
