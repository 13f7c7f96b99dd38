import { expect } from 'chai';
import * as torch from '../../lib';
import { prng, settleGarbage } from '../helpers';

// The caching CPU allocator (native/cpu_allocator.cc): released storages up to 64 MiB are handed
// out again. These tests prove that a reused block never aliases a live tensor, that every size
// class round-trips, and that the cache stays within its limit and can be emptied.
const cache = () => torch.backends.cpu.allocatorCache();
const enabled = cache().enabled;

describe('memory: the caching CPU allocator', () => {
  it('is installed unless disabled (TORCH_NAPI_CPU_CACHE=0), and reports its limit', () => {
    const c = cache();
    // an AddressSanitizer build (scripts/ci/test-asan.sh runs node from build-asan/) never caches
    const asan = process.execPath.includes('build-asan');
    expect(c.enabled).to.equal(process.env.TORCH_NAPI_CPU_CACHE !== '0' && !asan);
    expect(c.limit).to.be.greaterThan(0);
    expect(c.maxBlock)
      .to.equal(64 * 1024 * 1024)
      .and.be.below(c.limit);
    expect(c.bytes).to.be.within(0, c.limit);
  });

  it('hands a released block out again, and the new tensor holds only its own values', async function () {
    if (!enabled) this.skip();
    await settleGarbage(); // no other test's tensors may be collected (and cached) while this counts blocks
    torch.backends.cpu.emptyCache();
    const a = torch.full([1000], 7);
    a.dispose();
    const c = cache();
    expect(c.blocks).to.equal(1);
    expect(c.bytes).to.be.within(4000, 5000); // 4000 rounded up to its size class
    const b = torch.zeros(1000);
    expect(cache().blocks).to.equal(0); // b took the block back
    expect(b.sum().item()).to.equal(0);
    const e = torch.empty([1000]); // uninitialised memory is allowed to be anything, but usable
    e.fill_(2);
    expect(e.sum().item()).to.equal(2000);
    torch.dispose([b, e]);
  });

  it('never aliases live tensors across every size class (random sizes, interleaved frees)', function () {
    this.timeout(20000);
    const rand = prng(1234);
    const live: { t: torch.Tensor; v: number; n: number }[] = [];
    const sizes = [1, 2, 15, 16, 17, 20, 100, 1000, 1024, 1025, 4097, 16384, 65537, 262143, 262144, 262145, 300000];
    // and blocks of the large classes (4 .. 16 MiB of float64), at class boundaries and past them
    const large = [262145 * 2, 1 << 20, (1 << 20) + 1, 5 << 18, (1 << 21) - 1, 1 << 21];
    for (let i = 0; i < 400; i++) {
      const n = i < sizes.length ? sizes[i] : 1 + Math.floor(rand() ** 3 * 300000);
      const v = (i % 97) + 1;
      live.push({ t: torch.full([n], v, { dtype: 'float64' }), v, n });
      if (rand() < 0.5 && live.length > 1) {
        const k = Math.floor(rand() * live.length);
        live[k].t.dispose();
        live.splice(k, 1);
      }
    }
    for (let i = 0; i < 3 * large.length; i++) {
      const n = large[i % large.length];
      const v = 200 + i;
      live.push({ t: torch.full([n], v, { dtype: 'float64' }), v, n });
      if (i % 2 === 1) {
        const k = Math.floor(rand() * live.length);
        live[k].t.dispose();
        live.splice(k, 1);
      }
    }
    for (const { t, v, n } of live) {
      const [mn, mx] = [t.min().item(), t.max().item()];
      expect([mn, mx, t.numel()], `tensor of ${n} filled with ${v}`).to.deep.equal([v, v, n]);
    }
    torch.dispose(live.map((e) => e.t));
  });

  it('keeps at most its limit; emptyCache returns the blocks and says how many bytes', async function () {
    if (!enabled) this.skip();
    await settleGarbage();
    const limit = cache().limit;
    const batch: torch.Tensor[] = [];
    // 1.25 x the limit in 256 KiB storages, released together (as a GC batch would)
    const n = Math.ceil((limit * 1.25) / (256 * 1024));
    for (let i = 0; i < n; i++) batch.push(torch.empty([65536]));
    torch.dispose(batch);
    const c = cache();
    expect(c.bytes).to.be.at.most(limit);
    expect(c.bytes).to.be.greaterThan(limit / 2);
    expect(torch.backends.cpu.emptyCache()).to.be.at.least(c.bytes); // (a GC in between may add blocks)
    expect(cache()).to.deep.include({ bytes: 0, blocks: 0 });
  });

  it("serves libtorch's raw allocations (raw_allocate / raw_deallocate inside kernels such as gelu)", () => {
    for (const n of [10, 1000, 100000, 1 << 20]) {
      const x = torch.randn([n]);
      const y = torch.nn.functional.gelu(x);
      expect(y.shape).to.deep.equal([n]);
      torch.dispose([x, y]);
    }
  });

  it('keeps large storages up to maxBlock (64 MiB) and hands them out again, and leaves larger ones to the system allocator', async function () {
    if (!enabled) this.skip();
    await settleGarbage();
    torch.backends.cpu.emptyCache();
    const max = cache().maxBlock;
    torch.empty([max / 4 + 1]).dispose();
    expect(cache().blocks).to.equal(0);
    torch.empty([max / 4]).dispose();
    expect(cache()).to.deep.include({ blocks: 1, bytes: max });
    // an 8 MiB result takes an 8 MiB block and gives it back
    torch.empty([(8 << 20) / 4]).dispose();
    const withBig = cache();
    expect(withBig.blocks).to.equal(2);
    const again = torch.full([(8 << 20) / 4], 3);
    expect(cache().blocks, 'the cached block was handed out again').to.equal(1);
    expect(again.sum().item()).to.equal(3 * 2 * 1024 * 1024);
    again.dispose();
    torch.backends.cpu.emptyCache();
  });
});
