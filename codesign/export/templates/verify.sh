#!/usr/bin/env bash
# Compile the HLS sources as C++ (g++, no vendor tool) and check every test vector bit for bit.
# Exit 0 only when every output bit of every vector matches. BUILD_DIR: where to build (default a temp dir).
set -euo pipefail
cd "$(dirname "$0")"
CXX="${CXX:-g++}"
BUILD_DIR="${BUILD_DIR:-$(mktemp -d)}"
"$CXX" -O1 -std=c++11 -Ihls/firmware -Ihls/firmware/ap_types -DWEIGHTS_DIR='"hls/firmware/weights"' \
    hls/firmware/codesign_fw.cpp check_vectors.cpp -o "$BUILD_DIR/check_vectors"
"$BUILD_DIR/check_vectors" vectors
