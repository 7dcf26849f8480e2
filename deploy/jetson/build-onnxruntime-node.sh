#!/bin/sh
# Builds onnxruntime-node for Jetson (JetPack 6: L4T r36, CUDA 12.6, cuDNN 9, TensorRT 10, arm64) with the CUDA
# and TensorRT execution providers. The npm package's linux/arm64 binaries are CPU only, so the agent-jetson
# image replaces them with this build's output.
#
#   ORT_VERSION  onnxruntime release to build; must match the onnxruntime-node version in package-lock.json
#   CUDA_ARCH    CUDA architectures (87 = Orin; 72 = Xavier on JetPack 5, untested)
#   OUT          where the binaries go: onnxruntime_binding.node, libonnxruntime.so.1 and the provider libraries
#   JOBS         parallel compile jobs (the build needs ~2 GB of memory per job)
#   INSTALL      optional: an installed onnxruntime-node (e.g. /opt/diad/node_modules/onnxruntime-node) whose
#                bin/napi-v6/linux/arm64/ gets the result, for running the agent straight from a checkout on
#                the Jetson
#
# Runs in the onnxruntime-jetson stage of deploy/images/Containerfile or directly on a Jetson with JetPack 6,
# git, python3, cmake >= 3.28 and Node 20. Takes about an hour on an Orin AGX.
set -eu
ORT_VERSION=${ORT_VERSION:-1.30.0}
CUDA_ARCH=${CUDA_ARCH:-87}
OUT=${OUT:-$PWD/onnxruntime-node-jetson}
JOBS=${JOBS:-$(nproc)}
SRC=${SRC:-/tmp/onnxruntime}
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
LIBDIR=/usr/lib/aarch64-linux-gnu

[ "$(uname -m)" = aarch64 ] || { echo "build-onnxruntime-node: expected aarch64, got $(uname -m)" >&2; exit 1; }
[ -x "$CUDA_HOME/bin/nvcc" ] || { echo "build-onnxruntime-node: no nvcc in $CUDA_HOME (JetPack base needed)" >&2; exit 1; }
[ -f "$LIBDIR/libnvinfer.so" ] || [ -f "$LIBDIR/libnvinfer.so.10" ] || { echo "build-onnxruntime-node: TensorRT not found in $LIBDIR" >&2; exit 1; }
command -v node >/dev/null || { echo "build-onnxruntime-node: node not found" >&2; exit 1; }

if [ ! -d "$SRC/.git" ]; then
  git clone --depth 1 --branch "v$ORT_VERSION" --recursive --shallow-submodules \
    https://github.com/microsoft/onnxruntime.git "$SRC"
fi
cd "$SRC"
# --build_nodejs builds js/node against the shared library; --skip_tests keeps the build to the libraries.
./build.sh --config Release --update --build --parallel "$JOBS" --skip_tests \
  --build_shared_lib --build_nodejs \
  --use_cuda --cuda_home "$CUDA_HOME" --cudnn_home "$LIBDIR" \
  --use_tensorrt --tensorrt_home "$LIBDIR" \
  --allow_running_as_root \
  --cmake_extra_defines "CMAKE_CUDA_ARCHITECTURES=$CUDA_ARCH" "onnxruntime_BUILD_UNIT_TESTS=OFF"

BIN=js/node/bin/napi-v6/linux/arm64
[ -f "$BIN/onnxruntime_binding.node" ] || { echo "build-onnxruntime-node: $BIN/onnxruntime_binding.node missing" >&2; exit 1; }
mkdir -p "$OUT"
cp "$BIN/onnxruntime_binding.node" "$OUT/"
# The binding loads libonnxruntime.so.1 from its own folder; the providers are loaded by name at session creation.
for lib in libonnxruntime.so.1 libonnxruntime_providers_shared.so libonnxruntime_providers_cuda.so \
           libonnxruntime_providers_tensorrt.so; do
  f=$(find build/Linux/Release -maxdepth 1 -name "$lib*" | head -n 1)
  [ -n "$f" ] || { echo "build-onnxruntime-node: $lib not built" >&2; exit 1; }
  cp -L "$f" "$OUT/$lib"
done
ls -l "$OUT"
if [ -n "${INSTALL:-}" ]; then
  dest="$INSTALL/bin/napi-v6/linux/arm64"
  [ -d "$dest" ] || { echo "build-onnxruntime-node: $dest missing" >&2; exit 1; }
  cp "$OUT"/* "$dest/"
  echo "build-onnxruntime-node: installed into $dest"
fi
echo "build-onnxruntime-node: onnxruntime $ORT_VERSION with CUDA + TensorRT (sm_$CUDA_ARCH) in $OUT"
