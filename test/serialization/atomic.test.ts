// Saves are atomic: a writer killed with SIGKILL at any moment while it saves a 50 MB checkpoint
// over a good one leaves a file that loads (the old one, or the complete new one). A killed writer
// can leave its temp file (`<name>.tmp-<pid>-<hex>`) behind; load never reads it.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { atomicWrite } from '../../lib/serialization/io';
import type { Loaded } from '../helpers';

const LIB = path.resolve(__dirname, '..', '..', 'lib');
const TEMP_RE = /\.tmp-\d+-[0-9a-f]{12}$/;

function writer(target: string, kind: 'pt' | 'safetensors'): ChildProcess {
  const code = `
    const torch = require(${JSON.stringify(LIB)});
    const w = torch.randn(${(50 * 1024 * 1024) / 4});
    process.stdout.write('ready\\n');
    if (${JSON.stringify(kind)} === 'pt') torch.save({ w, n: 2 }, ${JSON.stringify(target)});
    else torch.saveSafetensors({ w, n: torch.tensor([2]) }, ${JSON.stringify(target)});
    process.stdout.write('done\\n');
  `;
  return spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
}

/** Starts a writer, kills it `delayMs` after it is ready (or lets it finish when null). */
function run(target: string, kind: 'pt' | 'safetensors', delayMs: number | null): Promise<'killed' | 'finished'> {
  return new Promise((resolve, reject) => {
    const child = writer(target, kind);
    let out = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready') && delayMs !== null && timer === undefined)
        timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (signal === 'SIGKILL') resolve('killed');
      else if (code === 0 && out.includes('done')) resolve('finished');
      else reject(new Error(`writer exited with code ${code}, signal ${signal}`));
    });
  });
}

function temps(dir: string, base: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.startsWith(`${base}.tmp-`) && TEMP_RE.test(f));
}

describe('serialization: atomic saves', function () {
  this.timeout(180000);
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torch-napi-atomic-'));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const kind of ['pt', 'safetensors'] as const) {
    it(`${kind}: a writer killed at 8 moments never damages the existing file; load ignores stray temp files`, async () => {
      const name = `model.${kind}`;
      const target = path.join(dir, name);
      const load = (): Record<string, torch.Tensor | number> =>
        kind === 'pt' ? torch.load(target) : torch.loadSafetensors(target);
      const n = (r: Record<string, torch.Tensor | number>): number =>
        typeof r.n === 'number' ? r.n : (r.n as torch.Tensor).item();
      const outcomes: string[] = [];
      for (const delay of [0, 5, 15, 30, 60, 100, 200, 400]) {
        // Start from the old, good file each time.
        if (kind === 'pt') torch.save({ w: torch.ones(3), n: 1 }, target);
        else torch.saveSafetensors({ w: torch.ones(3), n: torch.tensor([1]) }, target);
        const how = await run(target, kind, delay);
        const r = load();
        const which = n(r);
        expect([1, 2], `after a kill at ${delay} ms`).to.include(which);
        expect((r.w as torch.Tensor).numel()).to.equal(which === 1 ? 3 : (50 * 1024 * 1024) / 4);
        torch.dispose(r);
        outcomes.push(`${delay}ms:${how}:${which === 1 ? 'old' : 'new'}`);
        // A stray temp file (from a writer killed before its rename) is never the target: it is
        // partial (loading it fails cleanly) or complete (it holds the new data).
        for (const t of temps(dir, name)) {
          const p = path.join(dir, t);
          let partial = false;
          try {
            const tr = kind === 'pt' ? torch.load<Loaded>(p) : torch.loadSafetensors(p);
            expect(n(tr)).to.equal(2);
            torch.dispose(tr);
          } catch (e) {
            expect((e as Error).message).to.match(kind === 'pt' ? /^torch\.load: / : /^torch\.loadSafetensors: /);
            partial = true;
          }
          outcomes[outcomes.length - 1] += partial ? '+partial-temp' : '+complete-temp';
          fs.rmSync(p);
        }
      }
      expect(outcomes.length).to.equal(8);
      if (process.env.TORCH_NAPI_VERBOSE) console.log(`      ${outcomes.join(' ')}`);
    });
  }

  it('a save that finishes leaves no temp file; a failed save removes its temp file', async () => {
    const target = path.join(dir, 'clean.pt');
    expect(await run(target, 'pt', null)).to.equal('finished');
    expect(temps(dir, 'clean.pt')).to.deep.equal([]);
    expect(torch.load<Loaded>(target).n).to.equal(2);
    // A write that fails midway (here: the callback throws after 1 MB) removes its temp file and
    // leaves the target as it was.
    expect(() =>
      atomicWrite('torch.save', target, (sink) => {
        sink.write(new Uint8Array(1 << 20));
        throw new Error('disk on fire');
      }),
    ).to.throw(Error, 'disk on fire');
    expect(temps(dir, 'clean.pt')).to.deep.equal([]);
    expect(torch.load<Loaded>(target).n).to.equal(2);
    expect(() => torch.save({}, dir)).to.throw(Error, /torch\.save: cannot write .*directory/);
  });

  it('a finished save removes the temp files that killed writers of the same target left (dead pids only)', () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'torch-napi-stale-'));
    try {
      const target = path.join(d, 'm.pt');
      // A pid that existed and is gone: a child that has exited.
      const dead = spawnSync(process.execPath, ['-e', '']).pid as number;
      const names = {
        dead: `m.pt.tmp-${dead}-0123456789ab`,
        mine: `m.pt.tmp-${process.pid}-0123456789ab`, // a concurrent save of this process
        live: `m.pt.tmp-${process.ppid}-0123456789ab`, // another live process's save
        other: `n.pt.tmp-${dead}-0123456789ab`, // another target's
        notOurs: `m.pt.tmp-${dead}-notatempfile`, // not our pattern
      };
      for (const n of Object.values(names)) fs.writeFileSync(path.join(d, n), 'partial');
      torch.save({ n: 1 }, target);
      const left = fs.readdirSync(d).sort();
      expect(left).to.deep.equal([names.live, names.mine, names.notOurs, names.other, 'm.pt'].sort());
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});
