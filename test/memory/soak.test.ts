// A short soak (npm run soak runs 100,000 iterations): training steps of a small model, and
// LSTM.forwardAsync calls with a bounded number in flight (node test/soak/soak.js --async).

import * as path from 'node:path';
import { expect } from 'chai';

const { soak, soakAsync } = require(path.join(process.cwd(), 'test/soak/soak.js'));
// Under AddressSanitizer (scripts/ci/test-asan.sh) freed memory sits in ASan's quarantine (256 MB),
// so RSS says nothing about leaks there: only the live tensor counts are checked.
const CHECK_RSS = process.env.TORCH_NAPI_ASAN !== '1';

describe('soak: training steps of a small model', function () {
  this.timeout(120000);
  it('10,000 steps inside torch.tidy return the live tensor count exactly; RSS stays bounded (with and without tidy)', () => {
    const r = soak({ iterations: 10000, entry: path.join(process.cwd(), 'dist-test/lib/index.js') });
    expect(r.tidy.tensorsAfter, 'live tensors after the tidy loop').to.equal(r.tidy.tensorsBefore);
    if (CHECK_RSS) {
      expect(r.tidy.rssGrowthMB, 'RSS growth with tidy (MB)').to.be.below(50);
      expect(r.gcOnly.rssGrowthMB, 'RSS growth, GC only (MB)').to.be.below(150);
    }
  });
});

describe('soak: forwardAsync calls, 8 in flight', function () {
  this.timeout(120000);
  it('2,000 LSTM.forwardAsync calls return the live tensor count exactly; RSS stays bounded', async () => {
    const r = (
      await soakAsync({ iterations: 2000, concurrency: 8, entry: path.join(process.cwd(), 'dist-test/lib/index.js') })
    ).async;
    expect(r.iterations).to.equal(2000);
    expect(r.maxInFlight, 'calls in flight at once').to.equal(8);
    expect(r.checked, 'results compared with forward').to.be.at.least(1);
    expect(r.tensorsAfter, 'live tensors after the calls').to.equal(r.tensorsBefore);
    if (CHECK_RSS) expect(r.rssGrowthMB, 'RSS growth (MB)').to.be.below(50);
  });
});
