// The golden values of the data tests: test/fixtures/data.json, written by
// test/fixtures/gen/gen_data_fixtures.py (PyTorch 1.13.1).

import * as fs from 'node:fs';
import * as path from 'node:path';

let cached: Record<string, unknown> | undefined;

/** One top-level entry of test/fixtures/data.json (loaded once; tests run from the repository root). */
export function dataFixture<T>(key: string): T {
  if (!cached) {
    const file = path.join(process.cwd(), 'test', 'fixtures', 'data.json');
    cached = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  }
  return cached[key] as T;
}
