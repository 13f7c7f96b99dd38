// PyTorch's OpInfo database replayed through the public API (see harness.ts).
//
// Every (OpInfo entry, public spelling) pair is one test. A spelling the package lacks is
// pending ("missing"). A call that throws or disagrees with PyTorch fails only when
// test/opinfo/expected_pass.json lists it (it passed when the list was last written); otherwise
// it is pending and counted as "failing today" in the summary.
//
//   OPINFO_UPDATE=1  rewrites expected_pass.json from this run
//   OPINFO_REPORT=1  rewrites docs/opinfo-coverage.md from this run

import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';
import * as torch from '../../lib';
import { EXPECTED, jsName, loadFixture, type Result, ROOT, resultKey, rowsOf, runAll } from './harness';
import { float32Coverage, markdown, passKeys, summary } from './report';

// OPINFO_ONLY=<regex> runs the entries whose OpInfo name matches (to bisect a crash or a failure);
// the allow-list, the coverage report and OPINFO_UPDATE then need the full run.
const only = process.env.OPINFO_ONLY ? new RegExp(process.env.OPINFO_ONLY) : undefined;
const full = loadFixture();
const fx = only ? { ...full, ops: full.ops.filter((op) => only.test(op.key)) } : full;
const expected = new Set<string>(
  fs.existsSync(EXPECTED) ? (JSON.parse(fs.readFileSync(EXPECTED, 'utf8')) as string[]) : [],
);

describe('OpInfo replay', () => {
  let results: Result[] = [];
  const byKey = new Map<string, Result>();

  before(function () {
    this.timeout(120000);
    results = runAll(fx);
    for (const r of results) byKey.set(resultKey(r), r);
  });

  after(() => {
    if (results.length === 0) return;
    console.log(`\n${summary(results, fx)}\n`);
    const failing = results.filter((r) => r.status === 'fail' && !expected.has(resultKey(r)));
    if (failing.length > 0) {
      console.log(`failing today (not in expected_pass.json, so pending):`);
      for (const r of failing) console.log(`  ${r.op.key} (${r.js}): ${r.detail.slice(0, 160)}`);
    }
    const newly = results.filter((r) => r.status === 'pass' && !expected.has(resultKey(r)));
    if (newly.length > 0 && !process.env.OPINFO_UPDATE) {
      console.log(
        `${newly.length} pass but are not in expected_pass.json (OPINFO_UPDATE=1 adds them): ` +
          newly.map((r) => r.js).join(', '),
      );
    }
    if (only && (process.env.OPINFO_UPDATE || process.env.OPINFO_REPORT)) {
      console.log('OPINFO_ONLY is set: expected_pass.json and the report are left as they are');
      return;
    }
    if (process.env.OPINFO_UPDATE) {
      fs.writeFileSync(EXPECTED, `${JSON.stringify(passKeys(results), null, 2)}\n`);
      console.log(`wrote ${path.relative(ROOT, EXPECTED)}`);
    }
    if (process.env.OPINFO_REPORT) {
      const file = path.join(ROOT, 'docs', 'opinfo-coverage.md');
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, markdown(results, fx));
      console.log(`wrote ${path.relative(ROOT, file)}`);
    }
  });

  // the issue's bar, on every libtorch CI runs (1.13 here, 2.6 in the chroot)
  it('at least 90% of the OpInfo entries with float32 CPU samples pass', function () {
    if (process.env.OPINFO_ONLY) this.skip();
    const f = float32Coverage(results, fx);
    expect(f.percent, `${f.pass} of ${f.entries}`).to.be.at.least(90);
  });

  it('the fixture and the allow-list agree', () => {
    const known = new Set(
      full.ops.flatMap((op) => (['function', 'method', 'inplace'] as const).map((v) => `${op.key}|${v}`)),
    );
    const stale = [...expected].filter((k) => !known.has(k));
    expect(stale, 'expected_pass.json names entries the fixture lacks').to.deep.equal([]);
  });

  // The fixture is PyTorch 1.13's; these entries behave differently on libtorch 2.x by PyTorch's
  // own design (not a binding's fault), so a 2.x run does not count them as regressions.
  const GAPS_2X: Record<string, string> = {
    symeig: 'removed in PyTorch 2.0 (torch.linalg.eigh replaces it)',
    stft: 'PyTorch 2.x requires return_complex=True for real input (complex results, which this package has no dtype for)',
    istft: 'PyTorch 2.x requires complex input (stft with return_complex=True)',
  };
  const versionGap = (name: string): string | undefined =>
    Number(torch.libtorchVersion.split('.')[0]) >= 2 ? GAPS_2X[name] : undefined;

  // One test per pair; the work is done in before(), so this only reports.
  for (const op of fx.ops) {
    for (const [, variant] of rowsOf(op)) {
      const key = `${op.key}|${variant}`;
      it(`${op.key}: ${jsName(op, variant)}`, function () {
        const r = byKey.get(key);
        if (r?.status === 'pass') return;
        const gap = versionGap(op.name);
        if (gap !== undefined) {
          this.test!.title += ` [pending on libtorch ${torch.libtorchVersion}: ${gap}]`;
          this.skip();
        }
        if (expected.has(key)) expect.fail(`regression: ${r ? `${r.status}: ${r.detail}` : 'not run'}`);
        this.skip();
      });
    }
  }
});
