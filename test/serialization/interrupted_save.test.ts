// Interrupted saves: a child process saves two known ~24 MB checkpoints alternately over one
// target (test/serialization/interrupted_save_writer.js); the parent kills it with SIGKILL at
// seeded random moments, many times. After every kill the target loads and equals one of the two
// known contents exactly; nothing but the target and the killed writers' temp files is left.
//   TORCH_NAPI_KILLS=200 (default 24) kills; TORCH_NAPI_KILL_SEED (default 42).
//
// Where the temp files go: `atomicWrite` (lib/serialization/io.ts) writes
// `<target>.tmp-<pid>-<12 hex>` next to the target and renames it over the target. A save that
// fails removes its temp file; a killed writer cannot, so its temp file stays behind (partial, or
// complete when the kill fell between the fsync and the rename) until the next finished save of
// that target removes it (its pid is dead then). Loading never reads it; this test checks that
// and removes them itself.

import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { prng } from '../helpers';

type Tensor = torch.Tensor;
type Kind = 'pt' | 'safetensors';

const WRITER = path.join(process.cwd(), 'test', 'serialization', 'interrupted_save_writer.js');
const LIB = path.resolve(__dirname, '..', '..', 'lib');
const TEMP_RE = /\.tmp-(\d+)-[0-9a-f]{12}$/;
const KILLS = Math.max(1, Number(process.env.TORCH_NAPI_KILLS ?? 24));
const SEED = Number(process.env.TORCH_NAPI_KILL_SEED ?? 42);

/** The writer's contents (the same seeds and shapes as interrupted_save_writer.js). */
function content(which: 'A' | 'B'): Record<string, Tensor> {
  torch.manualSeed(which === 'A' ? 1 : 2);
  return { w: torch.randn(6 * 1024 * 1024), b: torch.randn(1000, 3), tag: torch.tensor([which === 'A' ? 1 : 2]) };
}

/**
 * A writer process, started ahead of its turn; `run(delayMs)` lets it write and SIGKILLs it
 * `delayMs` later, resolving with how many saves it finished.
 */
class Writer {
  private readonly child: ChildProcess;
  private out = '';
  private err = '';
  private readonly ready: Promise<void>;
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(target: string, kind: Kind) {
    this.child = spawn(process.execPath, [WRITER, LIB, target, kind], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => {
      this.out += d.toString();
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.err += d.toString();
    });
    this.exited = new Promise((resolve, reject) => {
      this.child.on('error', reject);
      this.child.on('exit', (code, signal) => resolve({ code, signal }));
    });
    this.ready = new Promise((resolve, reject) => {
      const check = () => {
        if (this.out.includes('ready\n')) resolve();
      };
      this.child.stdout!.on('data', check);
      this.exited.then(
        ({ code, signal }) => reject(new Error(`writer exited with code ${code}, signal ${signal}: ${this.err}`)),
        reject,
      );
    });
    this.ready.catch(() => {
      /* reported by run() */
    });
  }

  async run(delayMs: number): Promise<number> {
    await this.ready;
    this.child.stdin!.write('go\n');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), delayMs);
    const { code, signal } = await this.exited;
    clearTimeout(timer);
    if (signal !== 'SIGKILL') throw new Error(`writer exited with code ${code}, signal ${signal}: ${this.err}`);
    return (this.out.match(/^saved /gm) ?? []).length;
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

describe('serialization: saves interrupted by SIGKILL', function () {
  this.timeout(60000 + KILLS * 3000);
  let dir: string;
  let known: Record<'A' | 'B', Record<string, Tensor>>;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torch-napi-kill-'));
    known = { A: content('A'), B: content('B') };
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    torch.dispose([...Object.values(known.A), ...Object.values(known.B)]);
  });

  const which = (r: Record<string, Tensor>): 'A' | 'B' => {
    expect(Object.keys(r).sort()).to.deep.equal(['b', 'tag', 'w']);
    const tag = r.tag.item();
    expect([1, 2]).to.include(tag);
    const k = tag === 1 ? 'A' : 'B';
    for (const name of ['w', 'b', 'tag']) {
      expect(r[name].shape).to.deep.equal(known[k][name].shape);
      expect(r[name].equal(known[k][name]), `${k}.${name}`).to.equal(true);
    }
    return k;
  };

  it(`${KILLS} kills at seeded random moments (seed ${SEED}): the target always loads as one of the two complete checkpoints`, async () => {
    const rand = prng(SEED);
    const tally = { A: 0, B: 0, savesBeforeKill: 0, partialTemps: 0, completeTemps: 0, saveMs: 0 };
    const kindOf = (k: number): Kind => (k % 3 === 2 ? 'safetensors' : 'pt');
    const targetOf = (k: number): string => path.join(dir, `model.${kindOf(k)}`);
    // Each writer is started AHEAD turns early (it waits for 'go' before writing): loading
    // libtorch takes longer than the kills.
    const AHEAD = 3;
    const writers: Writer[] = [];
    for (let k = 0; k < Math.min(AHEAD, KILLS); k++) writers.push(new Writer(targetOf(k), kindOf(k)));
    try {
      for (let k = 0; k < KILLS; k++) {
        const kind = kindOf(k);
        const name = `model.${kind}`;
        const target = targetOf(k);
        const load = (f: string): Record<string, Tensor> => (kind === 'pt' ? torch.load(f) : torch.loadSafetensors(f));
        const save = (c: Record<string, Tensor>): void =>
          kind === 'pt' ? torch.save(c, target) : torch.saveSafetensors(c, target);
        // A good checkpoint is there before the writer starts (A or B, at random).
        const first = rand() < 0.5 ? 'A' : 'B';
        const t0 = process.hrtime.bigint();
        save(known[first]);
        const saveMs = Number(process.hrtime.bigint() - t0) / 1e6;
        // From 0 to 2.5 saves' time after the writer starts writing (the time of the save just
        // above): kills land before, inside and between saves on a fast machine or a slow one.
        const delay = Math.floor(rand() * 2.5 * saveMs);
        tally.saveMs = Math.max(tally.saveMs, Math.round(saveMs));
        if (k + AHEAD < KILLS) writers.push(new Writer(targetOf(k + AHEAD), kindOf(k + AHEAD)));
        tally.savesBeforeKill += await writers[k].run(delay);

        const r = load(target);
        tally[which(r)]++;
        torch.dispose(r);
        // Nothing else in the directory but this target, the other kind's target and temp files.
        for (const f of fs.readdirSync(dir)) {
          if (f === 'model.pt' || f === 'model.safetensors') continue;
          expect(f, 'a stray file').to.match(TEMP_RE);
          expect(f.startsWith(`${name}.tmp-`), `temp file ${f} of the other target`).to.equal(true);
          const p = path.join(dir, f);
          // A leftover temp file is the killed writer's partial file or its complete new one.
          try {
            const t = load(p);
            which(t);
            torch.dispose(t);
            tally.completeTemps++;
          } catch (e) {
            expect((e as Error).message).to.match(kind === 'pt' ? /^torch\.load: / : /^torch\.loadSafetensors: /);
            tally.partialTemps++;
          }
          fs.rmSync(p);
        }
      }
    } finally {
      for (const w of writers) w.kill(); // the ones not run, after a failure
    }
    expect(tally.A + tally.B).to.equal(KILLS);
    // The kills must have hit writes: at least one landed mid-write, leaving a partial temp file
    // (which the loads above refused) behind. With the default seed and 24 kills about 3 in 4 do
    // (155 partial of 200 kills were measured with TORCH_NAPI_KILLS=200).
    expect(tally.partialTemps, `kills that landed mid-write: ${JSON.stringify(tally)}`).to.be.at.least(1);
    if (process.env.TORCH_NAPI_VERBOSE) console.log(`      ${JSON.stringify(tally)}`);
  });
});
