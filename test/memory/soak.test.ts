// A short soak (npm run soak runs 100,000 iterations): training steps of a small model.
import { expect } from 'chai';
import * as path from 'path';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { soak } = require(path.join(process.cwd(), 'scripts/soak.js'));

describe('soak: training steps of a small model', function () {
  this.timeout(120000);
  it('10,000 steps inside torch.tidy return the live tensor count exactly; RSS stays bounded (with and without tidy)', () => {
    const r = soak({ iterations: 10000, entry: path.join(process.cwd(), 'dist-test/lib/index.js') });
    expect(r.tidy.tensorsAfter, 'live tensors after the tidy loop').to.equal(r.tidy.tensorsBefore);
    expect(r.tidy.rssGrowthMB, 'RSS growth with tidy (MB)').to.be.below(50);
    expect(r.gcOnly.rssGrowthMB, 'RSS growth, GC only (MB)').to.be.below(150);
  });
});
