#!/usr/bin/env bash
# GPU readiness check and benchmark for a host with an NVIDIA GPU and no network access, once Node (≥ 20) and
# this project (with node_modules/, and dist/ or the TypeScript compiler in node_modules) are copied there.
#
#   bench/gpu/run.sh [parity.mjs options: --alphas 0,0.5,1 --batch 250 --runs 5 --json FILE]
#
# 1. Finds ONNX Runtime's CUDA execution provider for onnxruntime-node: libonnxruntime_providers_cuda.so and
#    libonnxruntime_providers_shared.so next to the binding's libonnxruntime.so.1. If they are not there it
#    copies them from, in order: $ORT_CUDA_PROVIDER_DIR; the `onnxruntime/capi/` folder of an `onnxruntime-gpu`
#    Python wheel of the *same* ORT version installed for $LINPATH_BENCH_PYTHON, python3 or /usr/bin/python3.
#    (With network access, `ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js`
#    puts them there instead.) Otherwise it says exactly which files are missing and where they come from.
# 2. Checks that their CUDA and cuDNN libraries load (ldd): names every one that is not found.
# 3. Runs bench/gpu/parity.mjs with NVIDIA_TF32_OVERRIDE=0: the ResNet-18 fixture on the CPU and CUDA providers,
#    logits and losses compared (and with PyTorch's reference), images/s for both.
# 4. If PyTorch with CUDA is importable, runs bench/pytorch_baseline.py on cuda (and cpu) for images/s.
# Exit status: 0 all ran and agree; 1 disagreement or error; 3 the CUDA provider or its libraries are missing
# (the CPU side is still measured).
set -u
cd "$(dirname "$0")/../.."
say() { printf '%s\n' "$*"; }
fail() { say "gpu/run.sh: $*" >&2; exit 1; }

command -v node >/dev/null || fail "node is not on PATH (Node 20 or later is needed)"
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || fail "node $(node --version) is too old: Node 20 or later is needed"
[ -f node_modules/onnxruntime-node/package.json ] || fail "node_modules/onnxruntime-node is missing: copy node_modules/ with the project"
ORT_VERSION=$(node -p 'require("./node_modules/onnxruntime-node/package.json").version')
BIN=node_modules/onnxruntime-node/bin/napi-v6/linux/x64
[ "$(uname -sm)" = "Linux x86_64" ] || fail "ONNX Runtime's CUDA provider for Node exists for linux/x64 only, this is $(uname -sm)"

if [ ! -f dist/compute/onnx/onnx.engine.js ]; then
  [ -x node_modules/.bin/tsc ] || fail "dist/ is missing and node_modules/.bin/tsc is not there to build it: run npm run build before copying"
  say "building dist/ (tsc -p tsconfig.build.json)"
  node_modules/.bin/tsc -p tsconfig.build.json || fail "the build failed"
fi

gpu=$(nvidia-smi -L 2>/dev/null | head -1 || true)
say "onnxruntime-node $ORT_VERSION; GPU: ${gpu:-none listed by nvidia-smi -L}"
command -v nvidia-smi >/dev/null || say "note: nvidia-smi is not on PATH (no NVIDIA driver tools); the CUDA provider will likely not start"

PROVIDERS=(libonnxruntime_providers_shared.so libonnxruntime_providers_cuda.so)
missing_providers() { for f in "${PROVIDERS[@]}"; do [ -f "$BIN/$f" ] || printf '%s ' "$f"; done; }
copy_from() { # $1: a folder; copies the provider libraries from it when all are there
  for f in "${PROVIDERS[@]}"; do [ -f "$1/$f" ] || return 1; done
  say "copying the CUDA provider libraries from $1 to $BIN"
  for f in "${PROVIDERS[@]}"; do cp "$1/$f" "$BIN/$f" || return 1; done
}
cuda_ready=1
if [ -n "$(missing_providers)" ]; then
  found=0
  if [ -n "${ORT_CUDA_PROVIDER_DIR:-}" ] && copy_from "$ORT_CUDA_PROVIDER_DIR"; then found=1; fi
  if [ $found = 0 ]; then
    for py in ${LINPATH_BENCH_PYTHON:-} python3 /usr/bin/python3; do
      command -v "$py" >/dev/null || continue
      info=$("$py" -c 'import onnxruntime, os; print(onnxruntime.__version__, os.path.join(os.path.dirname(onnxruntime.__file__), "capi"))' 2>/dev/null) || continue
      version=${info%% *}; capi=${info#* }
      if [ "$version" != "$ORT_VERSION" ]; then
        say "note: $py has onnxruntime $version, not $ORT_VERSION: its providers are not used (the versions must match)"
        continue
      fi
      if copy_from "$capi"; then found=1; break; fi
      say "note: $py's onnxruntime $version at $capi has no CUDA provider (the CPU wheel, not onnxruntime-gpu)"
    done
  fi
  if [ -n "$(missing_providers)" ]; then
    cuda_ready=0
    say ""
    say "MISSING: $(missing_providers)in $BIN."
    say "  They come with ONNX Runtime $ORT_VERSION's CUDA 12 build. Any one of:"
    say "  - with network access: ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js"
    say "  - the Python wheel onnxruntime-gpu==$ORT_VERSION installed for python3 (or \$LINPATH_BENCH_PYTHON): pip download it"
    say "    elsewhere, copy and pip install the .whl; or unzip it and set ORT_CUDA_PROVIDER_DIR=<unzipped>/onnxruntime/capi"
    say "  - the NuGet package Microsoft.ML.OnnxRuntime.Gpu.Linux $ORT_VERSION: its runtimes/linux-x64/native/ folder as ORT_CUDA_PROVIDER_DIR"
  fi
fi

if [ $cuda_ready = 1 ]; then
  unresolved=$(ldd "$BIN/libonnxruntime_providers_cuda.so" 2>/dev/null | awk '/not found/ {print $1}' | sort -u | tr '\n' ' ')
  if [ -n "$unresolved" ]; then
    cuda_ready=0
    say ""
    say "MISSING: libraries the CUDA provider loads, not found on the library path: $unresolved"
    say "  ONNX Runtime $ORT_VERSION's CUDA build needs CUDA 12.x (libcudart, libcublas, libcublasLt, libcufft, libcurand)"
    say "  and cuDNN 9.x (libcudnn*). Install them, or add their folders to LD_LIBRARY_PATH (e.g. the nvidia-*-cu12"
    say "  Python wheels' nvidia/*/lib folders)."
  fi
fi

status=0
if [ $cuda_ready = 1 ]; then
  NVIDIA_TF32_OVERRIDE=0 node bench/gpu/parity.mjs "$@" || status=$?
  [ $status = 2 ] && status=3
else
  say ""
  say "running the CPU side only (bench/gpu/parity.mjs --cpu-only)"
  node bench/gpu/parity.mjs --cpu-only "$@" || status=1
  [ $status = 0 ] && status=3
fi

# The fixture folder as the benches find it (bench/fixtures.mjs: LINPATH_FIXTURES, test/fixtures, test/fixtures/generated).
FIXTURES=$(node --input-type=module -e "import { fixtureRoot } from './bench/fixtures.mjs'; console.log(fixtureRoot(['resnet18/init.safetensors.gz', 'resnet18/final.safetensors.gz', 'resnet18/test_set.safetensors']) ?? '')")
for py in ${LINPATH_BENCH_PYTHON:-} python3 /usr/bin/python3; do
  command -v "$py" >/dev/null || continue
  "$py" -c 'import torch, numpy' 2>/dev/null || continue
  [ -n "$FIXTURES" ] || { say "PyTorch: the ResNet-18 fixture was not found (see bench/fixtures.mjs): not measured"; break; }
  if "$py" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    say ""
    say "PyTorch ($py) on cuda, then cpu: the α = 0.5 point on 1,000 images"
    "$py" bench/pytorch_baseline.py --fixtures "$FIXTURES" --workload resnet --device cuda --runs 5 --max-other 1
    "$py" bench/pytorch_baseline.py --fixtures "$FIXTURES" --workload resnet --runs 3 --max-other 1
  else
    say ""
    say "PyTorch ($py, $("$py" -c 'import torch; print(torch.__version__)')) has no CUDA here: not measured on the GPU"
  fi
  break
done
exit $status
