#!/usr/bin/env bash
# Build the bundle that bench/gpu/run.sh needs on a GPU machine without network or Node:
#   out/gpu-bundle/flexolmo-gpu.tar.xz  =  node/bin/node        (this machine's Node binary)
#                                          node_modules/…       (only the packages the benchmark loads,
#                                                                 linux-x64 parts only)
#                                          dist/…               (compiled lib + bench/gpu)
#                                          debs/libvulkan1_*.deb (the Vulkan loader, unpacked without root)
# out/ is git-ignored. The device tool carries at most 64 MiB, so the bundle is xz-compressed and this
# script fails if it is larger.
#
#   bash bench/gpu/pack.sh            # then, on the GPU machine: bash bench/gpu/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUNDLE_DIR=${BUNDLE_DIR:-out/gpu-bundle}
LIMIT_MIB=64

if [ "$(uname -m)" != "x86_64" ] || [ "$(uname -s)" != "Linux" ]; then
  echo "pack.sh: build the bundle on linux-x64 (the GPU machine's platform); this is $(uname -s)-$(uname -m)" >&2
  exit 1
fi

echo "pack: compiling (tsc emits even when unrelated files have type errors)"
npx tsc -p tsconfig.json >/dev/null 2>&1 || true
for f in dist/bench/gpu/ours.js dist/lib/backend.js; do
  [ -f "$f" ] || { echo "pack.sh: $f is missing after tsc; fix the build first" >&2; exit 1; }
done
for p in webgpu @tensorflow/tfjs-backend-webgpu; do
  [ -d "node_modules/$p" ] || { echo "pack.sh: node_modules/$p is missing (a devDependency of this repository, an optional peer for users); run npm ci" >&2; exit 1; }
done

STAGE=$(mktemp -d /tmp/flexolmo-gpu-pack.XXXXXX)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/node/bin" "$STAGE/debs" "$STAGE/node_modules"
cp "$(readlink -f "$(command -v node)")" "$STAGE/node/bin/node"

# The packages the benchmark loads: run it at tiny size on wasm and list require.cache, plus the two
# lazily loaded WebGPU packages.
PKGS=$(node -e '
  const m = require("./dist/bench/gpu/ours.js");
  const log = console.log; console.log = () => {};
  m.main(["--preset", "tiny", "--backend", "wasm", "--reps", "1"]).then(() => {
    for (const p of ["webgpu", "@tensorflow/tfjs-backend-webgpu"]) require(p);
    const pk = new Set();
    for (const f of Object.keys(require.cache)) {
      const r = f.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
      if (r) pk.add(r[1]);
    }
    log([...pk].sort().join("\n"));
  });' 2>/dev/null)
[ -n "$PKGS" ] || { echo "pack.sh: could not list the packages the benchmark loads" >&2; exit 1; }
echo "pack: node_modules: $(echo $PKGS | tr '\n' ' ')"
for p in $PKGS; do
  mkdir -p "$STAGE/node_modules/$(dirname "$p")"
  # Skip what never runs on linux-x64 Node: other platforms' dawn.node, browser bundles, sources, maps.
  tar -C node_modules -cf - \
    --exclude='*.map' --exclude='*.ts' --exclude='*.min.js' --exclude='*.es2017.js' --exclude='*.esm.js' \
    --exclude='dist/darwin-*' --exclude='dist/win32-*' --exclude='dist/linux-arm64' \
    "$p" | tar -C "$STAGE/node_modules" -xf -
done
cp package.json "$STAGE/"
mkdir -p "$STAGE/dist"
cp -r dist/lib "$STAGE/dist/"
mkdir -p "$STAGE/dist/bench"
cp -r dist/bench/gpu "$STAGE/dist/bench/"
# data files the lib may read at run time (tokenizer etc.) are not needed: the benchmark uses random tokens.

echo "pack: downloading libvulkan1 (.deb) with apt"
(cd "$STAGE/debs" && apt-get download libvulkan1 >/dev/null 2>&1) || {
  echo "pack.sh: apt-get download libvulkan1 failed (run apt-get update first?)" >&2
  exit 1
}

# Smoke test of the staged tree (the same command run.sh uses, at tiny size on wasm).
if ! (cd "$STAGE" && ./node/bin/node dist/bench/gpu/ours.js --preset tiny --backend wasm --reps 1 --models dense >"$STAGE/smoke.log" 2>&1); then
  tail -20 "$STAGE/smoke.log" >&2
  echo "pack.sh: the staged bundle does not run (missing package?)" >&2
  exit 1
fi
rm -f "$STAGE/smoke.log"

mkdir -p "$BUNDLE_DIR"
OUTF="$ROOT/$BUNDLE_DIR/flexolmo-gpu.tar.xz"
echo "pack: compressing (xz -9, about a minute on 2 cores)"
tar -C "$STAGE" -cf - . | xz -9 -T2 >"$OUTF.tmp"
mv "$OUTF.tmp" "$OUTF"
SIZE=$(stat -c %s "$OUTF")
echo "pack: $OUTF  $((SIZE / 1048576)) MiB (staged: $(du -sm "$STAGE" | cut -f1) MiB)"
if [ "$SIZE" -gt $((LIMIT_MIB * 1048576)) ]; then
  echo "pack.sh: the bundle is larger than the device tool's ${LIMIT_MIB} MiB carry limit" >&2
  exit 1
fi
echo "pack: carry it with the device tool as carry=[\"$BUNDLE_DIR\"] and run: bash bench/gpu/run.sh"
