#!/usr/bin/env bash
# Measure our engine and transformers' FlexOlmoForCausalLM side by side on one GPU machine.
#
# Needs: the bundle from bench/gpu/pack.sh (Node, node_modules, dist, the libvulkan1 .deb), Python
# with torch + transformers (FlexOlmo support), an NVIDIA driver. No network, no root, no Node.
#
#   bash bench/gpu/run.sh [BUNDLE_DIR] [RESULTS_DIR]
#     BUNDLE_DIR   default out/gpu-bundle (holds flexolmo-gpu.tar.xz)
#     RESULTS_DIR  default $OUT (the device tool's returned folder) or out/gpu-results
#   env: OURS_BACKENDS  our backends to measure, default "webgpu" (plus tfjs-node-gpu when it loads)
#        PRESET         default gpu;  REPS  timed repetitions, default 5
#
# Writes RESULTS_DIR/ours-<backend>.json, hf.json, compare.md and the logs. Checkpoints exported for
# hf.py (hundreds of MB at the gpu preset) go to a temporary folder, not RESULTS_DIR.
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
BUNDLE_DIR=${1:-out/gpu-bundle}
RES=${2:-${OUT:-out/gpu-results}}
PRESET=${PRESET:-gpu}
REPS=${REPS:-5}
mkdir -p "$RES"
RES=$(cd "$RES" && pwd)

log() { echo "run.sh: $*" | tee -a "$RES/run.log" >&2; }

[ -f "$BUNDLE_DIR/flexolmo-gpu.tar.xz" ] || { log "no $BUNDLE_DIR/flexolmo-gpu.tar.xz: build it with bash bench/gpu/pack.sh and carry $BUNDLE_DIR"; exit 1; }
RT=$(mktemp -d /tmp/flexolmo-gpu.XXXXXX)
CKPT="$RT/checkpoints"
log "unpacking the bundle into $RT"
xz -dc "$BUNDLE_DIR/flexolmo-gpu.tar.xz" | tar -C "$RT" -xf - || { log "cannot unpack the bundle"; exit 1; }

# The Vulkan loader, without root: unpack the .deb and put its lib dir on LD_LIBRARY_PATH.
for deb in "$RT"/debs/*.deb; do dpkg-deb -x "$deb" "$RT/vulkan"; done
export LD_LIBRARY_PATH="$RT/vulkan/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# The NVIDIA Vulkan driver (ICD). Containers started with only the "compute,utility" driver
# capabilities have no nvidia_icd.json; the driver library may still be there, so point the loader at it.
if ls /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json >/dev/null 2>&1; then
  log "NVIDIA Vulkan ICD: $(ls /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json 2>/dev/null | tr '\n' ' ')"
else
  GLX=$( (ldconfig -p 2>/dev/null | awk '/libGLX_nvidia\.so\.0/ {print $NF; exit}'); true)
  [ -z "$GLX" ] && GLX=$(find / -xdev -name 'libGLX_nvidia.so.0' 2>/dev/null | head -1)
  if [ -n "$GLX" ]; then
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3"}}\n' "$GLX" >"$RT/nvidia_icd.json"
    export VK_ICD_FILENAMES="$RT/nvidia_icd.json"
    log "no nvidia_icd.json installed; using the driver library $GLX through $VK_ICD_FILENAMES"
  else
    log "no NVIDIA Vulkan driver (nvidia_icd.json / libGLX_nvidia.so.0) on this machine: the webgpu route will find no adapter"
  fi
fi

export PATH="$RT/node/bin:$PATH"
log "node $(node --version); $(nvidia-smi -L 2>/dev/null | head -1 || echo 'nvidia-smi: not found')"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv >"$RES/nvidia-smi.csv" 2>&1 || true

# Our side. The first run also exports the checkpoints that hf.py loads.
BACKENDS=${OURS_BACKENDS:-webgpu}
if [ -z "${OURS_BACKENDS:-}" ] && [ -d "$RT/node_modules/@tensorflow/tfjs-node-gpu" ]; then BACKENDS="tfjs-node-gpu webgpu"; fi
OURS_JSON=""
for b in $BACKENDS; do
  EXPORT=()
  [ -d "$CKPT" ] || EXPORT=(--export "$CKPT")
  log "ours: backend $b, preset $PRESET"
  (cd "$RT" && node dist/bench/gpu/ours.js --preset "$PRESET" --backend "$b" --reps "$REPS" "${EXPORT[@]}" --out "$RES/ours-$b.json") \
    >"$RES/ours-$b.log" 2>&1
  rc=$?
  tail -8 "$RES/ours-$b.log" | tee -a "$RES/run.log" >&2
  if [ $rc -eq 0 ] && [ -z "$OURS_JSON" ]; then OURS_JSON="$RES/ours-$b.json"; fi
  [ $rc -eq 0 ] || log "ours on $b failed (exit $rc); see ours-$b.log"
done
if [ ! -d "$CKPT" ]; then
  # Every backend of ours failed before exporting: export from the cpu backend (no compute needed).
  log "exporting the checkpoints on the cpu backend"
  (cd "$RT" && node dist/bench/gpu/ours.js --preset "$PRESET" --backend cpu --export "$CKPT" --export-only) >"$RES/export.log" 2>&1 || log "export failed; see export.log"
fi

# transformers' side, on the same configs, batch and sequence length.
BATCH_SEQ=()
if [ -n "$OURS_JSON" ]; then BATCH_SEQ=(--ours "$OURS_JSON"); fi
for j in "$RES"/ours-*.json; do [ -f "$j" ] && [ "$j" != "$OURS_JSON" ] && BATCH_SEQ+=(--ours "$j"); done
log "transformers: $(python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)' 2>&1 | tail -1)"
python3 "$REPO/bench/gpu/hf.py" --checkpoints "$CKPT" --preset "$PRESET" --reps "$REPS" "${BATCH_SEQ[@]}" --out "$RES/hf.json" --table "$RES/compare.md" \
  2>"$RES/hf.log"
rc=$?
[ $rc -eq 0 ] || { log "hf.py failed (exit $rc):"; tail -20 "$RES/hf.log" >&2; }
[ -f "$RES/compare.md" ] && cat "$RES/compare.md"
rm -rf "$RT"
exit $rc
