#!/usr/bin/env bash
# Builds llama.cpp's own `llama-bench` and `llama-server`, the reference `vitrine bench llm` compares
# against, from the same llama.cpp source our llama-cpp-sys-2 crate compiles (its version is read
# from Cargo.lock). Out of tree, into target/llama-reference/bin/; never committed. Idempotent: does
# nothing when both binaries exist (delete target/llama-reference to rebuild).
#
# The crate ships llama.cpp's ggml, src, common and vendor folders but not the sources of tools/.
# Those two tools' front ends (tools/llama-bench, tools/server, tools/ui and the UI-embedding CMake
# script) come from the llama-cpp-python sdist on PyPI, pinned below; everything they link against
# (ggml kernels, llama, common) is the crate's copy, so the reference runs the very kernels Vitrine
# runs. target/llama-reference/SOURCE.txt records both origins and the build time.
set -euo pipefail
cd "$(dirname "$0")/.."

# llama-cpp-python 0.3.36 vendors llama.cpp at ggml-org/llama.cpp@0c1e57098 (its CHANGELOG).
PY_SDIST_VERSION="${LLAMA_REFERENCE_SDIST_VERSION:-0.3.36}"
OUT="$PWD/target/llama-reference"
BIN="$OUT/bin"

if [ -x "$BIN/llama-bench" ] && [ -x "$BIN/llama-server" ]; then
  echo "llama-reference: $BIN/llama-bench and llama-server exist; skipping"
  exit 0
fi
command -v cmake >/dev/null || { echo "llama-reference: cmake is missing (make setup)" >&2; exit 1; }

started=$(date +%s)

crate_version=$(awk '/^name = "llama-cpp-sys-2"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[ -n "$crate_version" ] || { echo "llama-reference: llama-cpp-sys-2 is not in Cargo.lock" >&2; exit 1; }
find_crate() {
  compgen -G "${CARGO_HOME:-$HOME/.cargo}/registry/src/*/llama-cpp-sys-2-$crate_version/llama.cpp" | head -n1 || true
}
crate_src=$(find_crate)
if [ -z "$crate_src" ]; then
  cargo fetch --locked >/dev/null
  crate_src=$(find_crate)
fi
[ -n "$crate_src" ] || { echo "llama-reference: llama-cpp-sys-2 $crate_version source not found" >&2; exit 1; }
crate_commit=$(sed -n 's/.*"sha1": "\([0-9a-f]*\)".*/\1/p' "$crate_src/../.cargo_vcs_info.json" 2>/dev/null || true)

SRC="$OUT/src"
rm -rf "$SRC"
mkdir -p "$OUT"
cp -a "$crate_src" "$SRC"
chmod -R u+w "$SRC"

tools_from="llama-cpp-sys-2 $crate_version"
if [ ! -f "$SRC/tools/llama-bench/llama-bench.cpp" ] || [ ! -f "$SRC/tools/server/server.cpp" ]; then
  sdist_dir="$OUT/sdist"
  tarball="$sdist_dir/llama_cpp_python-$PY_SDIST_VERSION.tar.gz"
  if [ ! -f "$tarball" ]; then
    echo "llama-reference: fetching the llama-cpp-python $PY_SDIST_VERSION sdist for tools/ sources"
    python3 -m pip download --quiet --no-binary :all: --no-deps \
      "llama-cpp-python==$PY_SDIST_VERSION" -d "$sdist_dir"
  fi
  upstream="llama_cpp_python-$PY_SDIST_VERSION/vendor/llama.cpp"
  tar -xzf "$tarball" -C "$sdist_dir" "$upstream/tools/llama-bench" "$upstream/tools/server" \
    "$upstream/tools/ui" "$upstream/scripts/ui-assets.cmake"
  for part in tools/llama-bench tools/server tools/ui; do
    rm -rf "${SRC:?}/$part"
    cp -a "$sdist_dir/$upstream/$part" "$SRC/$part"
  done
  mkdir -p "$SRC/scripts"
  cp "$sdist_dir/$upstream/scripts/ui-assets.cmake" "$SRC/scripts/"
  sdist_commit=$(sed -n 's/.*llama.cpp to ggml-org\/llama.cpp@\([0-9a-f]*\).*/\1/p' \
    <(tar -xzOf "$tarball" "llama_cpp_python-$PY_SDIST_VERSION/CHANGELOG.md") | head -n1)
  tools_from="llama-cpp-python $PY_SDIST_VERSION sdist (llama.cpp $sdist_commit)"
  # The crate's llama.cpp is a little newer than the sdist's, and two of its changes reach the
  # server's sources; adapt those two lines, and only when the crate's headers call for it.
  # 1. mtmd_get_memory_usage returns a struct holding the per-device map (used only for a
  #    multimodal projector, which the benchmark never loads).
  if grep -q "backend_mem_usage" "$SRC/tools/mtmd/mtmd.h"; then
    sed -i 's/\(auto mmproj_mem = mtmd_get_memory_usage(mmproj_path.c_str(), mparams)\);/\1.backend_mem_usage;/' \
      "$SRC/tools/server/server-context.cpp"
  fi
  # 2. common's fs_open_ifstream is gone; on Linux it was a plain std::ifstream.
  if ! grep -q "fs_open_ifstream" "$SRC/common/common.h"; then
    sed -i 's/std::ifstream f = fs_open_ifstream(\(.*\));/std::ifstream f(\1);/' \
      "$SRC/tools/server/server-mcp.cpp"
  fi
  tools_from="$tools_from, adapted to the crate's API in two lines (see scripts/llama-reference.sh)"
fi
# Only the two tools (and the libraries they need); the crate lacks the other tools' sources.
cat >"$SRC/tools/CMakeLists.txt" <<'EOF'
find_package(Threads REQUIRED)
llama_add_compile_flags()
add_subdirectory(mtmd)
add_subdirectory(llama-bench)
add_subdirectory(ui)
add_subdirectory(server)
EOF

# This VM reports AMX, and ggml's AMX kernels die with SIGILL here (docs/llm-runtime-notes.md).
no_amx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
echo "llama-reference: configuring (log in $OUT/build.log)"
cmake -S "$SRC" -B "$OUT/build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_FLAGS="$no_amx" -DCMAKE_CXX_FLAGS="$no_amx" \
  -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DBUILD_SHARED_LIBS=OFF \
  -DLLAMA_BUILD_COMMON=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
  -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
  -DLLAMA_BUILD_NUMBER=0 -DLLAMA_BUILD_COMMIT="crate-$crate_version" >"$OUT/build.log" 2>&1 ||
  { tail -n 30 "$OUT/build.log" >&2; exit 1; }
echo "llama-reference: building llama-bench and llama-server"
cmake --build "$OUT/build" --config Release -j "$(nproc)" --target llama-bench llama-server \
  >>"$OUT/build.log" 2>&1 || { tail -n 40 "$OUT/build.log" >&2; exit 1; }

mkdir -p "$BIN"
cp "$OUT/build/bin/llama-bench" "$OUT/build/bin/llama-server" "$BIN/"
seconds=$(($(date +%s) - started))
cat >"$OUT/SOURCE.txt" <<EOF
libraries (ggml, llama, common): llama-cpp-sys-2 $crate_version (llama-cpp-rs commit ${crate_commit:-unknown})
tools/llama-bench, tools/server, tools/ui: $tools_from
flags: Release, GGML_NATIVE=ON, $no_amx
built in ${seconds} s on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF
cat "$OUT/SOURCE.txt"
