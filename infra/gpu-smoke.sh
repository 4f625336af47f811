#!/usr/bin/env bash
# The GPU smoke test: run it on a machine with one NVIDIA GPU, no internet needed, under 10 minutes.
# It prints a table (check | result | detail) and exits non-zero if any row fails. What each row
# means: infra/README.md, "GPU smoke test". Options: --help.
#
#   docker run --rm --gpus all charrnn-gpu bash infra/gpu-smoke.sh     # the built image
#   bash infra/gpu-smoke.sh                                            # a checkout with tfjs-node-gpu
#   bash infra/gpu-smoke.sh --backend wasm                             # no GPU: every other row (CI)
#
# The checks are TypeScript (functions/smoke/): from a checkout they run through tsx; in the image,
# which has no sources, the bundle dist/gpu-smoke.mjs runs. --dist DIR picks a bundle explicitly.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

dist=""
prev=""
for arg in "$@"; do
  case "$arg" in
    --dist=*) dist="${arg#--dist=}" ;;
    *) if [ "$prev" = "--dist" ]; then dist="$arg"; fi ;;
  esac
  prev="$arg"
done

# No sources beside this script (the image): use the bundle next to it.
if [ -z "$dist" ] && [ ! -f "$root/functions/smoke/main.ts" ] && [ -f "$root/dist/gpu-smoke.mjs" ]; then
  exec node "$root/dist/gpu-smoke.mjs" --dist "$root/dist" "$@"
fi
if [ -n "$dist" ]; then
  exec node "$dist/gpu-smoke.mjs" "$@"
fi
# tsx is resolved from the working directory.
cd "$root"
exec node --import tsx functions/smoke/main.ts "$@"
