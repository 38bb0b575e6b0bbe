#!/usr/bin/env bash
# Optional comparison (netc itself never needs Python): netc and PyTorch eager on the same
# cases, interleaved round by round on the same machine, medians of the per-round medians.
#
#   benches/side_by_side.sh [rounds] [seconds-per-run] [case ...]
#
# NETC_VARIANTS lists the option sets to run netc with, separated by `;`, each its own
# column (default: no options, i.e. Winograd by the cost model and autotuning on), e.g.
# NETC_VARIANTS=";--tune off;--winograd off --tune off" for the tuned kernels, the cost
# model's choices and the direct kernels only (an empty set, the defaults, goes first). The autotune table is the user's (first runs
# measure and fill it; `netc bench` times steps, not compilation).
#
# Needs a release build (cargo build --release) and, for the PyTorch side, torch and
# torchvision. PyTorch runs with glibc's malloc tuned as its best configuration here
# (MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967296); both use 2 threads.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
secs=${2:-3}
shift $(( $# > 2 ? 2 : $# )) || true
cases=("$@")
[ ${#cases[@]} -eq 0 ] && cases=(lenet-train resnet20-train resnet18-train resnet50-infer vgg16-infer inception3-infer)
netc=target/release/netc
declare -A args=(
  [lenet-train]="nets/lenet-classic.net --train --batch 64"
  [resnet20-train]="nets/resnet20-cifar.net --train --batch 128"
  [resnet18-train]="nets/resnet18.net --train --batch 8"
  [resnet50-infer]="nets/resnet50.net --batch 1"
  [vgg16-infer]="nets/vgg16.net --batch 1"
  [inception3-infer]="nets/inception-v3.net --batch 1"
)
out=$(mktemp)
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; torch $(python3 -c 'import torch; print(torch.__version__)')" >&2
for r in $(seq 1 "$rounds"); do
  for c in "${cases[@]}"; do
    IFS=';' read -r -a variants <<< "${NETC_VARIANTS:-}"
    [ ${#variants[@]} -eq 0 ] && variants=("")
    # Rotated every round: whatever runs first after the previous case's PyTorch
    # process measured slower (LeNet: 3.6 against 2.9 ms for the same kernels).
    k=$(( r % ${#variants[@]} ))
    for w in "${variants[@]:k}" "${variants[@]:0:k}"; do
      name=$(echo "${w:-default}" | tr -d ' -')
      # shellcheck disable=SC2086
      ms=$($netc bench ${args[$c]} --threads 2 --seconds "$secs" $w --format json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["median_seconds"] * 1e3)')
      echo "netc-$name $c $ms" >> "$out"
      echo "round $r $c: netc ${w:-(defaults)} $ms ms" >&2
    done
    py=$(MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967296 THREADS=2 \
      python3 benches/pytorch_cases.py "$c" "$secs" | cut -d' ' -f2)
    echo "torch $c $py" >> "$out"
    echo "round $r $c: torch $py ms" >&2
  done
done
python3 - "$out" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    who, case, ms = line.split()
    rows.setdefault(case, {}).setdefault(who, []).append(float(ms))
netcs = [w for w in next(iter(rows.values())) if w.startswith("netc-")]
head = [f"netc {w[5:]} ms/step" for w in netcs] + ["PyTorch eager ms/step"] + [f"{w[5:]} / PyTorch" for w in netcs]
print("| case | " + " | ".join(head) + " |")
print("|---" * (len(head) + 1) + "|")
for case, r in rows.items():
    t = statistics.median(r["torch"])
    ns = [statistics.median(r[w]) for w in netcs]
    cells = [f"{n:.2f}" for n in ns] + [f"{t:.2f}"] + [f"{t / n:.2f}x" for n in ns]
    print(f"| {case} | " + " | ".join(cells) + " |")
PY
rm -f "$out"
