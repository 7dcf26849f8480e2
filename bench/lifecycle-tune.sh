#!/usr/bin/env bash
# Automatic tuning without defect images, measured: tools.diad.tune chooses the reference model's sampler on the
# synthetic hard tier's validation split (seed 2) from held-out normals and synthetic anomalies only; `diad eval`
# then scores that choice and the shipped one (start step 50, 4 draws, chosen with the validation split's real
# defect labels) on the test split (seed 1, noise seed 0).
#   bench/lifecycle-tune.sh [workdir]      (about an hour of one CPU core)
set -euo pipefail
cd "$(dirname "$0")/.."
W="${1:-${TMPDIR:-/tmp}/diad-tune}"
mkdir -p "$W"
PY=/usr/bin/python3
DIAD=(npx --no-install tsx --conditions=@diad/source packages/cli/src/main.ts)
LAYERS=block_3_expand_relu,block_6_expand_relu,block_10_expand_relu
[ -f "$W/ref.pt" ] || "$PY" -m tools.diad.unbundle --bundle models/diad-synth-tiny --out "$W/ref.pt"
[ -d "$W/val/hard" ] || "${DIAD[@]}" synth --out "$W/val/hard" --seed 2 --tier hard --train 2 -q
[ -d "$W/test/hard" ] || "${DIAD[@]}" synth --out "$W/test/hard" --seed 1 --tier hard --train 2 -q
[ -f "$W/tune.json" ] || "$PY" -m tools.diad.tune --checkpoint "$W/ref.pt" --data "$W/val/hard" --evidence synthetic \
  --start-steps 0 50 100 200 --draws 1 4 --layers "$LAYERS" --max-normals 40 --threads 1 --json "$W/tune.json"
read -r S D < <("$PY" -c "import json;c=json.load(open('$W/tune.json'))['chosen'];print(c['startStep'],c['draws'])")
echo "chosen without defect images: start step $S, draws $D"
auroc() { "$PY" -c "import json,sys;r=json.load(open(sys.argv[1]));print(r['methods'][sys.argv[2]]['mean']['imageAUROC'] if 'methods' in r else r)" "$@" 2>/dev/null || echo "see $1"; }
if [ "$S" = 0 ]; then
  "${DIAD[@]}" eval --bundle models/diad-synth-tiny --dataset "$W/test/hard" --out "$W/eval-tuned" --methods autoencoder --seed 0 --heatmaps 0
else
  "${DIAD[@]}" eval --bundle models/diad-synth-tiny --dataset "$W/test/hard" --out "$W/eval-tuned" --start-step "$S" --draws "$D" --seed 0 --methods diad --heatmaps 0
fi
"${DIAD[@]}" eval --bundle models/diad-synth-tiny --dataset "$W/test/hard" --out "$W/eval-shipped" --start-step 50 --draws 4 --seed 0 --methods diad --heatmaps 0
echo "reports: $W/eval-tuned, $W/eval-shipped"
