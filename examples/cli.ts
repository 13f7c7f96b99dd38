// The examples' command lines: strict flags with a usage text, integer flags, a progress bar.
import { parseArgs } from 'node:util';

type Spec = Record<string, { type: 'string'; default: string } | { type: 'boolean'; default: boolean; short?: string }>;
type Values<S extends Spec> = { [K in keyof S]: S[K] extends { type: 'string' } ? string : boolean };

/**
 * Parses process.argv strictly (`--no-progress` and `--help` are always there): an unknown flag
 * exits 2 with the usage, `--help` prints it and exits 0.
 */
export function cli<S extends Spec>(usage: string, spec: S): Values<S> & { 'no-progress': boolean; help: boolean } {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      strict: true,
      allowPositionals: false,
      options: {
        ...spec,
        'no-progress': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${usage}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  return values as Values<S> & { 'no-progress': boolean; help: boolean };
}

/** An integer flag's value, or exit 2 with the usage. */
export function intFlag(usage: string, name: string, v: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name}: expected an integer >= ${min}, got '${v}'\n\n${usage}`);
    process.exit(2);
  }
  return n;
}

export interface Bar {
  update(v: number, payload?: object): void;
  stop(): void;
}

/** A cli-progress bar (a no-op when not shown): `format`'s {bar}, {value}, {total} and payload keys. */
export function progressBar(show: boolean, format: string, total: number, payload: object): Bar {
  if (!show) return { update() {}, stop() {} };
  const cliProgress = require('cli-progress');
  const bar = new cliProgress.SingleBar(
    { format, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, payload);
  return bar;
}
