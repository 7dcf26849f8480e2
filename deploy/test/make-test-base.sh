#!/bin/sh
# Builds the local base images the deploy tests use instead of pulling docker.io/library/node (no registry is
# reachable from the test machines). Both are cached under stable tags; rerunning is a no-op.
#   localhost/diad-test/debian:bookworm  Debian bookworm minbase + ca-certificates, from mmdebstrap
#   localhost/diad-test/node:20-2        the same + this machine's Node 20 and npm laid out like the node image
#                                       (/usr/local/bin/node, /usr/local/lib/node_modules/npm,
#                                       /usr/local/include/node)
# The machine's CA bundle goes into the node base so npm inside `podman build` trusts the same TLS path the
# host does. Nothing here is committed: the rootfs tar lives in $CACHE (default .data/deploy).
set -eu
CACHE=${DIAD_DEPLOY_CACHE:-.data/deploy}
DEBIAN_TAG=localhost/diad-test/debian:bookworm
NODE_TAG=${DIAD_TEST_NODE_IMAGE:-localhost/diad-test/node:20-2}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$CACHE"
t0=$(date +%s)
if ! podman image exists "$DEBIAN_TAG"; then
  if [ ! -s "$CACHE/rootfs.tar" ]; then
    mmdebstrap --variant=minbase --format=tar --include=ca-certificates bookworm "$CACHE/rootfs.tar.part" "$MIRROR"
    mv "$CACHE/rootfs.tar.part" "$CACHE/rootfs.tar"
  fi
  podman import --quiet "$CACHE/rootfs.tar" "$DEBIAN_TAG" >/dev/null
  echo "make-test-base: $DEBIAN_TAG imported ($(( $(date +%s) - t0 )) s)"
fi
if ! podman image exists "$NODE_TAG"; then
  ctx="$CACHE/node-base"
  rm -rf "$ctx" && mkdir -p "$ctx"
  node=$(command -v node)
  cp "$(readlink -f "$node")" "$ctx/node"
  npmdir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  cp -a "$npmdir" "$ctx/npm"
  cp -a /usr/include/node "$ctx/include-node"
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/ca-certificates.crt"
  cat > "$ctx/Containerfile" <<'CF'
FROM localhost/diad-test/debian:bookworm
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY include-node /usr/local/include/node
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && mkdir -p /usr/local/etc && echo "cafile=/etc/ssl/certs/ca-certificates.crt" > /usr/local/etc/npmrc \
 && node --version && npm --version
CF
  podman build --isolation chroot --quiet -t "$NODE_TAG" "$ctx" >/dev/null
  rm -rf "$ctx"
  echo "make-test-base: $NODE_TAG built ($(( $(date +%s) - t0 )) s)"
fi
# The trainer's stand-in for the PyTorch image: Debian's CPU torch, torchvision, onnx, scipy, scikit-learn and
# Pillow (only with
# `make-test-base.sh python`).
PY_TAG=localhost/diad-test/python:bookworm-2
if [ "${1:-}" = python ] && ! podman image exists "$PY_TAG"; then
  ctx="$CACHE/python-base"
  rm -rf "$ctx" && mkdir -p "$ctx"
  cat > "$ctx/Containerfile" <<'CF'
FROM localhost/diad-test/debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-torch python3-onnx python3-scipy python3-sklearn \
 && rm -rf /var/lib/apt/lists/*
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-torchvision python3-pil \
 && rm -rf /var/lib/apt/lists/*
CF
  podman build --isolation chroot --layers --quiet -t "$PY_TAG" "$ctx" >/dev/null
  rm -rf "$ctx"
  echo "make-test-base: $PY_TAG built ($(( $(date +%s) - t0 )) s)"
fi
