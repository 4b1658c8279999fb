#!/usr/bin/env bash
# Runs the device bench from what bench/device/pack.sh put in .carry/: unpacks the Vulkan
# loader (into / on the GPU machine, as its README asks; into a scratch folder for --dry),
# points the loader at the NVIDIA ICD, unpacks Deno and the data, then runs our full default
# job on WebGPU and the PyTorch reference on CUDA side by side (bench.js), writing JSON and
# the log under $OUT (default .carry/out).
#   bash bench/device/run.sh          the full default job (on the GPU machine)
#   bash bench/device/run.sh --dry    a tiny size, to check the chain here (llvmpipe, torch on CPU)
#   bash bench/device/run.sh --epochs 3   fewer epochs (other options go to bench/device/main.ts)
set -euo pipefail
cd "$(dirname "$0")/../.."
carry=.carry
out=${OUT:-$PWD/$carry/out}
dry=""
for arg in "$@"; do
  if [ "$arg" = "--dry" ]; then dry=--dry; fi
done
for f in deno.xz bench.js data/train-images-idx3-ubyte.xz; do
  if [ ! -s "$carry/$f" ]; then
    echo "run: $carry/$f is missing; run bash bench/device/pack.sh first" >&2
    exit 1
  fi
done
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

unxz_to() { # file.xz target
  if command -v xz >/dev/null; then
    xz -dc "$1" > "$2"
  else
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"
  fi
}

if ! ldconfig -p | grep 'libvulkan\.so\.1' >/dev/null; then
  if [ -z "$dry" ]; then
    for f in "$carry"/*.deb; do dpkg -x "$f" /; done
    ldconfig
  else
    for f in "$carry"/*.deb; do dpkg -x "$f" "$work/root"; done
    export LD_LIBRARY_PATH="$work/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$icd" ]; then export VK_DRIVER_FILES=$icd; fi
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
  if [ -d "$d" ]; then export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
done

unxz_to "$carry/deno.xz" "$work/deno"
chmod +x "$work/deno"
mkdir -p "$work/data"
for f in "$carry"/data/*.xz; do unxz_to "$f" "$work/data/$(basename "${f%.xz}")"; done
(nvidia-smi -L || echo "no nvidia-smi") > "$out/gpu.txt" 2>&1

python=${PYTHON:-python3}
set +e
DENO_DIR="$work/deno_dir" NO_COLOR=1 "$work/deno" run --no-config \
  --allow-read --allow-write --allow-run --allow-env \
  "$carry/bench.js" --data-dir "$work/data" --out "$out" --python "$python" \
  --torch-script bench/device/torch_cuda.py "$@" 2>&1 | tee "$out/log.txt"
status=${PIPESTATUS[0]}
set -e
echo "run: exit $status; results in $out (device_bench.json, torch_*.json, log.txt, gpu.txt)"
exit "$status"
