#!/usr/bin/env node
// The `torch-napi` command: `doctor` (is this installation working, and why not) and `run` (start
// the ranks of a distributed job, like torchrun). Neither loads the addon before it needs to.

const cmd = process.argv[2];
if (cmd === 'doctor') {
  require('./doctor.js');
} else if (cmd === 'run') {
  require('./launch.js').main(process.argv.slice(3));
} else {
  console.log(
    [
      'usage: torch-napi doctor                 print the installation facts and a verdict',
      '       torch-napi run [options] script   start the ranks of a distributed job (see torch-napi run --help)',
    ].join('\n'),
  );
  process.exit(cmd === undefined || cmd === '--help' || cmd === '-h' ? 0 : 2);
}
