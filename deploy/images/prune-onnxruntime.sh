#!/bin/sh
# Keeps only this platform's ONNX Runtime binaries in an onnxruntime-node install (the package ships darwin,
# win32 and linux for x64 and arm64, ~290 MB; one linux platform is ~45 MB).
# usage: prune-onnxruntime <node_modules/onnxruntime-node> [linux/x64|linux/arm64]
set -eu
dir=${1:?usage: prune-onnxruntime <onnxruntime-node dir> [platform]}
keep=${2:-linux/$(node -p process.arch)}
bin="$dir/bin/napi-v6"
[ -d "$bin/$keep" ] || { echo "prune-onnxruntime: $bin/$keep missing" >&2; exit 1; }
for os in "$bin"/*; do
  for arch in "$os"/*; do
    case "${arch#"$bin"/}" in
      "$keep") ;;
      *) rm -rf "$arch" ;;
    esac
  done
  rmdir "$os" 2>/dev/null || true
done
echo "prune-onnxruntime: kept $keep ($(du -sh "$bin/$keep" | cut -f1))"
