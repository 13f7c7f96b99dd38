#!/usr/bin/env bash
# Installs what torch-napi needs on Debian/Ubuntu, then builds it.
#   bash scripts/setup.sh          libtorch (Debian's libtorch-dev) + npm deps + native and TS build
#   bash scripts/setup.sh --dev    also python3-torch (the reference PyTorch: fixtures, benchmarks)
# With LIBTORCH=/path/to/libtorch set, no system libtorch is installed; that one is used.
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=0
for arg in "$@"; do
  case "$arg" in
    --dev) DEV=1 ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

say() { printf '\n== %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
fi

APT_UPDATED=0
apt_install() {
  # apt_install PKG...: installs the packages that are missing; `apt-get update` first when one is unknown.
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    cat >&2 <<MSG
setup.sh: this is not a Debian/Ubuntu system (no apt-get), so ${missing[*]} cannot be installed here.
  Install libtorch yourself (a libtorch download, or a Python torch: pip install torch), then either
  set LIBTORCH=/path/to/libtorch (the directory with include/ and lib/) or make \`python3 -c 'import torch'\`
  work, and run this script again.
MSG
    exit 1
  fi
  if [ "$(id -u)" != 0 ] && [ -z "$SUDO" ]; then
    echo "setup.sh: need root (or sudo) to install ${missing[*]}" >&2
    exit 1
  fi
  if [ "$APT_UPDATED" = 0 ] && ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
    say "apt-get update (a package was not found in the lists)"
    $SUDO apt-get update -qq
    APT_UPDATED=1
  fi
  say "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || { [ "$APT_UPDATED" = 0 ] && $SUDO apt-get update -qq && APT_UPDATED=1 && \
         DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; }
}

if [ -n "${LIBTORCH:-}" ]; then
  say "using LIBTORCH=$LIBTORCH (no system libtorch installed)"
  [ -f "$LIBTORCH/include/ATen/ATen.h" ] || { echo "setup.sh: LIBTORCH=$LIBTORCH has no include/ATen/ATen.h" >&2; exit 1; }
else
  apt_install libtorch-dev libopenblas0-pthread
  # libgloo-dev: the headers of Gloo, which libtorch's c10d headers (ProcessGroupGloo) include;
  # libtorch-dev does not depend on it. Without them torch.distributed is built out (it says so).
  apt_install libgloo-dev
fi
# --dev: the reference PyTorch (fixtures, benchmarks) and clang-format (`npm run lint` checks native/).
if [ "$DEV" = 1 ]; then apt_install python3-torch clang-format; fi
for tool in g++ cmake make python3; do
  command -v "$tool" >/dev/null 2>&1 || apt_install "$( [ "$tool" = g++ ] && echo g++ || echo "$tool")"
done

# Node's headers: npm builds against the system's when present (no download).
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node_api.h ]; then
  export npm_config_nodedir=/usr
fi

say "libtorch: $(node install/find-libtorch.js --version) ($(node -e "console.log(require('./install/find-libtorch.js').find().source)"))"
say "npm ci"
# --ignore-scripts: the package's own install script would compile the addon with node-gyp; we
# build once, below, with cmake-js. It also keeps onnxruntime-node's postinstall (the benchmark's
# devDependency; its CPU binaries are in its tarball) from downloading CUDA binaries from NuGet on
# linux-x64; ONNXRUNTIME_NODE_INSTALL=skip says the same to that script should it run anyway (an
# `npm rebuild`, or an npm that runs install scripts this command did not ask for).
export ONNXRUNTIME_NODE_INSTALL=skip ONNXRUNTIME_NODE_INSTALL_CUDA=skip
npm ci --ignore-scripts --no-audit --no-fund
say "build (native addon + TypeScript)"
npm run build
say "done: try \`npm start\` and \`npm test\`"
