#!/usr/bin/env bash
# Proves that binding.gyp (what `npm install` / node-gyp-build and prebuildify use) compiles and
# loads: builds the addon with node-gyp in a copy of the project and runs a smoke test there.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
tmp="$(mktemp -d /tmp/torch-napi-gyp.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
cd "$root"
source "$root/scripts/copy-tree.sh"
copy_tree "$tmp"
cp -r "$root/dist" "$tmp/dist"
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node_api.h ]; then export npm_config_nodedir=/usr; fi
cd "$tmp"
npx --no-install node-gyp rebuild -j 2 --loglevel=warn
node -e "
const torch = require('$tmp');
const path = require('path');
const loaded = Object.keys(require.cache).find((f) => f.endsWith('.node'));
if (!loaded || !loaded.startsWith('$tmp')) throw new Error('loaded the wrong addon: ' + loaded);
const x = torch.tensor([[1, 2], [3, 4]], { requiresGrad: true });
const y = x.mul(x).sum();
y.backward();
const g = Array.from(x.grad.data());
if (g.join(',') !== '2,4,6,8') throw new Error('unexpected gradient ' + g);
console.log('node-gyp build OK:', path.relative('$tmp', loaded), 'libtorch', torch.libtorchVersion, 'grad', g.join(','));
"
