// The install script's test (package.json "prebuild": {"test": ...}, run by node-gyp-build's
// node-gyp-build-test): exits 0 when an addon here loads, so that `npm install` compiles nothing;
// otherwise exits 1 and node-gyp-build compiles from source with node-gyp (binding.gyp).
// "Loads" is decided by the package's own loader (dist/native.js, lib/prebuilds.ts): a local build,
// or the prebuild whose libtorch is on this machine (prebuilds/<platform>-<arch>/libtorch-<x.y>/).
//   node install/check-prebuild.js     (in the package directory) what the install would use, or why it compiles

const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const loader = path.join(root, 'dist', 'native.js');
if (!fs.existsSync(loader)) {
  // A git checkout before `npm run build:ts`: node-gyp-build's own test (a local build, if any).
  require('node-gyp-build')(root);
  process.exit(0);
}
try {
  const { addonFile, addonChoice } = require(loader);
  const chosen = addonChoice.candidates.find((c) => c.file === addonFile);
  console.log(
    `torch-napi: no compile needed: ${path.relative(root, addonFile)} loads (${chosen ? chosen.reason : 'ok'})`,
  );
} catch (e) {
  console.error(String(e.message));
  console.error('torch-napi: no prebuild fits this machine: compiling from source (node-gyp)');
  process.exit(1);
}
