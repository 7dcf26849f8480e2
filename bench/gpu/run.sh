#!/usr/bin/env bash
# The GPU check in one command, for a borrowed GPU machine (under 8 minutes) or, with --dry, any machine.
#   bench/gpu/run.sh [--dry] [--paper-bundle DIR] [--images N] [--out DIR]
# Rows: the provider check (diad doctor), our pipeline on each provider that loads (reference tiny bundle; a
# paper-size bundle when given), a TensorRT EP-context variant compiled on the spot when tools.diad.compile and
# TensorRT are present, and the PyTorch reference (tiny and paper configurations, fp32 and fp16, random weights).
# Every row that cannot run says why. --dry skips the paper-size PyTorch run (about 40 s per image on a CPU).
set -uo pipefail
cd "$(dirname "$0")/../.."
DRY=0; PAPER_BUNDLE=""; IMAGES=4; OUT="${TMPDIR:-/tmp}/diad-gpu-check"
while [ $# -gt 0 ]; do
  case "$1" in
    --dry) DRY=1 ;;
    --paper-bundle) PAPER_BUNDLE="$2"; shift ;;
    --images) IMAGES="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$OUT"
ROWS="$OUT/rows.jsonl"; : > "$ROWS"
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
TSX=(npx --no-install tsx --conditions=@diad/source)
TINY=models/diad-synth-tiny
step() { echo "== $*" >&2; }
skip() { printf '{"engine":"%s","config":"%s","skipped":"%s"}\n' "$1" "$2" "$3" >> "$ROWS"; }

step "provider check"
timeout 180 "${TSX[@]}" packages/cli/src/main.ts doctor 2>/dev/null | tee "$OUT/doctor.txt" >&2

step "pipeline, tiny bundle"
timeout 240 "${TSX[@]}" bench/gpu/providers.ts "$TINY" --images "$IMAGES" 2>>"$OUT/stderr.log" >> "$ROWS" ||
  skip diad-pipeline tiny "bench/gpu/providers.ts failed or timed out (see $OUT/stderr.log)"

step "TensorRT EP-context variant"
if ! "$PY" -c 'import tools.diad.compile' 2>/dev/null; then
  skip diad-pipeline tiny-trt-ctx "tools.diad.compile is not available in this checkout"
elif ! "$PY" -c 'import onnxruntime as o; assert "TensorrtExecutionProvider" in o.get_available_providers()' 2>/dev/null; then
  skip diad-pipeline tiny-trt-ctx "Python onnxruntime-gpu with the TensorRT provider is not installed"
else
  rm -rf "$OUT/tiny-trt" && cp -r "$TINY" "$OUT/tiny-trt"
  if timeout 300 "$PY" -m tools.diad.compile --bundle "$OUT/tiny-trt" --precision fp16 >>"$OUT/stderr.log" 2>&1; then
    timeout 180 "${TSX[@]}" bench/gpu/providers.ts "$OUT/tiny-trt" --images "$IMAGES" --providers tensorrt,cpu \
      2>>"$OUT/stderr.log" >> "$ROWS" || skip diad-pipeline tiny-trt-ctx "variant run failed (see $OUT/stderr.log)"
  else
    skip diad-pipeline tiny-trt-ctx "tools.diad.compile failed (see $OUT/stderr.log)"
  fi
fi

step "pipeline, paper-size bundle"
if [ -n "$PAPER_BUNDLE" ]; then
  timeout 420 "${TSX[@]}" bench/gpu/providers.ts "$PAPER_BUNDLE" --images 2 --providers tensorrt,cuda,webgpu \
    2>>"$OUT/stderr.log" >> "$ROWS" || skip diad-pipeline paper "timed out or failed (see $OUT/stderr.log)"
else
  skip diad-pipeline paper "no --paper-bundle given (python3 -m tools.diad.export of random paper-size weights writes one)"
fi

step "PyTorch reference"
timeout 180 "$PY" bench/gpu/torch_ref.py --config tiny --device cuda --images "$IMAGES" >> "$ROWS" 2>>"$OUT/stderr.log" ||
  skip pytorch tiny "torch_ref.py failed (see $OUT/stderr.log)"
if [ "$DRY" = 1 ]; then
  skip pytorch paper "dry mode"
else
  timeout 300 "$PY" bench/gpu/torch_ref.py --config paper --device cuda --images 2 >> "$ROWS" 2>>"$OUT/stderr.log" ||
    skip pytorch paper "torch_ref.py failed or timed out (see $OUT/stderr.log)"
fi

"$PY" - "$ROWS" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
head = ["engine", "model", "provider/precision", "ms/image", "memory", "parity vs reference", "note"]
out = []
for r in rows:
    model = r.get("bundle") or r.get("config") or ""
    what = r.get("provider") or r.get("precision") or ""
    if r.get("variant"):
        what += f" ({r['variant']})"
    mem = f"{r['peakMemMiB']} MiB GPU" if "peakMemMiB" in r else (f"{r['peakRssMiB']} MiB RSS" if "peakRssMiB" in r else "")
    if "scoreRelDiffVsCpu" in r:
        par = f"score {r['scoreRelDiffVsCpu']:.1e} rel, map {r['mapMaxAbsDiffVsCpu']:.1e} abs vs CPU"
    elif "maxAbsDiffVsFp32" in r:
        par = f"recon {r['maxAbsDiffVsFp32']:.1e} abs vs fp32"
    else:
        par = ""
    out.append([r.get("engine", ""), model, what, str(r.get("medianMs", "-")), mem, par, r.get("skipped", "")])
w = [max(len(h), *(len(o[i]) for o in out)) if out else len(h) for i, h in enumerate(head)]
print("  ".join(h.ljust(w[i]) for i, h in enumerate(head)).rstrip())
for o in out:
    print("  ".join(c.ljust(w[i]) for i, c in enumerate(o)).rstrip())
PYEOF
