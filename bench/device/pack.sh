#!/usr/bin/env bash
# Packs what a bare GPU machine needs to run the device bench into .carry/ (git-ignored):
#   deno.xz      this machine's Deno binary, xz-compressed
#   bench.js     `deno bundle` of bench/device/main.ts (tfjs and our code; no npm at run time)
#   *.deb        the Vulkan loader (libvulkan1, amd64)
#   data/*.xz    Fashion-MNIST's four IDX files, xz-compressed (smaller than the .gz)
# The device command is then `bash bench/device/run.sh` with carry [".carry"].
set -euo pipefail
cd "$(dirname "$0")/../.."
carry=.carry
data_src=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
mkdir -p "$carry/data"

deno_bin=$(readlink -f "$(command -v deno)")
if [ ! -s "$carry/deno.xz" ] || [ "$deno_bin" -nt "$carry/deno.xz" ]; then
  xz -T2 -6 -c "$deno_bin" > "$carry/deno.xz.tmp" && mv "$carry/deno.xz.tmp" "$carry/deno.xz"
fi

deno bundle -o "$carry/bench.js" bench/device/main.ts

rm -f "$carry"/libvulkan1_*.deb
if [ "$(dpkg --print-architecture)" = amd64 ]; then
  (cd "$carry" && apt-get download libvulkan1)
else
  # Another architecture: amd64 package lists of their own (the device is x86-64).
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
  mkdir -p /tmp/amd64/partial
  apt-get "${o[@]}" update
  (cd "$carry" && apt-get "${o[@]}" download libvulkan1)
fi

for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  if [ ! -s "$carry/data/$name.xz" ]; then
    zcat "$data_src/$name.gz" | xz -T2 -9 -c > "$carry/data/$name.xz.tmp"
    mv "$carry/data/$name.xz.tmp" "$carry/data/$name.xz"
  fi
done
rm -rf "$carry/out"

# What travels: the carried folder plus the tracked and untracked-not-ignored tree (64 MiB in all).
carried=$(du -sb "$carry" | cut -f1)
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb 2>/dev/null | tail -n 1 | cut -f1)
total=$((carried + tree))
printf 'pack: .carry %.1f MiB + tree %.1f MiB = %.1f MiB (limit 64 MiB)\n' \
  "$(echo "$carried / 1048576" | bc -l)" "$(echo "$tree / 1048576" | bc -l)" "$(echo "$total / 1048576" | bc -l)"
if [ "$total" -gt $((64 * 1048576)) ]; then
  echo "pack: over the device's 64 MiB transfer limit; remove untracked files from the tree" >&2
  exit 1
fi
echo 'pack: ready; on the device run: bash bench/device/run.sh   (carry: [".carry"]; here: bash bench/device/run.sh --dry)'
