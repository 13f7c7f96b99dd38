// Re-entrancy during argument conversion: a getter, valueOf or Proxy trap that disposes (or throws)
// while the native side converts a later argument. The native side used to hold a reference into
// the disposed tensor's box (use-after-free, SIGSEGV); an async call's collected boxes could be
// freed before it marked them. Every case runs in a child process, so a crash fails the test
// instead of killing mocha.

import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { expect } from 'chai';

const LIB = JSON.stringify(path.join(process.cwd(), 'dist-test', 'lib'));
const SCRIPTED = JSON.stringify(path.join(process.cwd(), 'test', 'fixtures', 'jit', 'scripted.pt'));

/** Runs `body` (async JS with `torch` in scope) in a fresh Node; returns its JSON result. */
function child(body: string): unknown {
  const script = `const torch = require(${LIB});
    (async () => { ${body} })().then((r) => console.log(JSON.stringify(r)), (e) => { console.error(e); process.exit(3); });`;
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  expect(r.signal, `the child was killed by ${r.signal}; stderr:\n${r.stderr}`).to.equal(null);
  expect(r.status, `child exit status; stderr:\n${r.stderr}`).to.equal(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

// Outcome of one hostile call: the result's shape, or the error class and message.
const OUTCOME = `const outcome = (f) => { try { const r = f(); return { ok: Array.isArray(r) ? r.map((x) => x.shape) : r.shape }; }
  catch (e) { return { error: e.constructor.name, message: String(e.message).slice(0, 200) }; } };`;

describe('re-entrancy: JS run during argument conversion cannot free what the call uses', () => {
  it('a getter, valueOf or Proxy trap that disposes the receiver, in every shape-taking method', function () {
    this.timeout(60_000);
    const out = child(`${OUTCOME}
      const ops = {
        reshape: (t, s) => t.reshape(s), view: (t, s) => t.view(s), expand: (t, s) => t.expand(s),
        repeat: (t, s) => t.repeat(s), permute: (t, s) => t.permute(s), flip: (t, s) => t.flip(s),
        sum: (t, s) => t.sum(s), split: (t, s) => t.split(s, 0), mean: (t, s) => t.mean(s),
      };
      const shapes = { reshape: [3, 2], view: [3, 2], expand: [2, 3], repeat: [1, 2], permute: [1, 0], flip: [0, 1],
        sum: [0, 1], split: [1, 1], mean: [0, 1] };
      const results = {};
      for (const [name, op] of Object.entries(ops)) {
        for (const kind of ['getter', 'valueOf', 'proxy', 'throws']) {
          // The library may read an element more than once (a check in JS, then the native
          // conversion): the hostile access fires on the first, second or third read.
          for (const nth of [1, 2, 3]) {
            for (const big of [false, true]) {  // number handles (small tensors) and external handles
              const t = big ? torch.randn(40, 30).narrow(0, 0, 2).narrow(1, 0, 3).contiguous() : torch.ones(2, 3);
              const base = shapes[name].slice();
              let reads = 0;
              const hit = () => {
                if (++reads !== nth) return;
                if (kind === 'throws') throw new Error('hostile');
                t.dispose(); global.gc();
              };
              let arg;
              if (kind === 'getter' || kind === 'throws') { arg = base.slice(); Object.defineProperty(arg, 1, { get() { hit(); return base[1]; } }); }
              if (kind === 'valueOf') arg = [base[0], { valueOf() { hit(); return base[1]; } }];
              if (kind === 'proxy') arg = new Proxy(base.slice(), { get(o, k) { if (k === '1') hit(); return o[k]; } });
              results[name + ' ' + kind + ' #' + nth + (big ? ' big' : '')] = outcome(() => op(t, arg));
            }
          }
        }
      }
      return results;`) as Record<string, { ok?: unknown; error?: string; message?: string }>;
    expect(Object.keys(out)).to.have.length(9 * 4 * 3 * 2);
    for (const [name, r] of Object.entries(out)) {
      // Either the call computed from what it had already read, or it refused with an Error.
      if (r.error !== undefined) expect(r.error, `${name}: ${r.message}`).to.match(/Error$/);
      if (name.includes('throws #1'))
        expect(r.message, `${name} must propagate the getter's error`).to.match(/hostile/);
    }
  });

  it('ScriptModule.runMethodAsync: reading a later list element disposes an earlier one', function () {
    this.timeout(60_000);
    const out = child(`
      const m = torch.jit.load(${SCRIPTED});
      const res = [];
      for (let i = 0; i < 20; i++) {
        const a = torch.randn(3, 4), b = torch.randn(3, 4);
        const h = b._h;
        Object.defineProperty(b, '_h', { get() { try { a.dispose(); res.push('disposed'); } catch (e) { res.push('refused'); } global.gc(); return h; } });
        try { res.push(await m.runMethodAsync('count', [a, b])); } catch (e) { res.push(e.constructor.name); }
      }
      return res;`) as (string | number)[];
    // The earlier input is pinned while later ones are read: its dispose is refused, the call runs.
    expect(out.filter((x) => x === 'refused')).to.have.length(20);
    expect(out.filter((x) => x === 2)).to.have.length(20);
  });
});
