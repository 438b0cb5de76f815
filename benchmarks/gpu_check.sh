#!/usr/bin/env bash
# GPU check of the Monte Carlo verifier (rfshift.montecarlo), for a machine with JAX+CUDA installed
# system-wide under `python3` (not the project venv). Runs, from the repository root:
#   1. the device report (JAX version, devices, memory flags),
#   2. `rfshift validate` at n0 = 4096 (16 trials per case; dense case capped at n0 = 1024),
#   3. the one-trial benchmark at n0 = 8192 (JAX on the GPU vs NumPy on the CPU cores),
#   4. the finite-size mode, backend="jax" (GPU) vs "numpy" (CPU cores) per W draw, same W, at
#      n1 = 2·n0 = 500…4000 (ReLU, closed-form kernel) and 500…2000 (tanh, Mehler series)
#      (benchmarks/finite_size.py --backend jax; docs/validation.md §9.5).
# Everything printed is also appended to ${OUT:-.}/gpu_check.txt. Budget: about 10 minutes on an
# H100/H200; each step has its own timeout so that a slow step cannot eat the others' figures.
#
#   bash benchmarks/gpu_check.sh            # or: OUT=/some/dir N0=4096 TRIALS=8 BENCH_N0=8192 bash ...
#   SKIP_MC=1 bash benchmarks/gpu_check.sh  # only steps 1 and 4 (about 4 minutes)
set -u
cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-.}"
mkdir -p "$OUT_DIR"
REPORT="$OUT_DIR/gpu_check.txt"
N0="${N0:-4096}"
TRIALS="${TRIALS:-16}"
BENCH_N0="${BENCH_N0:-8192}"
FS_SIZES="${FS_SIZES:-500,1000,2000,4000}"
FS_TANH_SIZES="${FS_TANH_SIZES:-500,1000,2000}"
THREADS="$(nproc 2>/dev/null || echo 2)"
PY="${PYTHON:-python3}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export XLA_PYTHON_CLIENT_PREALLOCATE="${XLA_PYTHON_CLIENT_PREALLOCATE:-false}"
: > "$REPORT"

step() {  # step NAME TIMEOUT_S CMD...
  local name="$1" limit="$2"; shift 2
  echo "=== $name ($(date -u +%H:%M:%S) UTC, limit ${limit}s): $*" | tee -a "$REPORT"
  local t0=$SECONDS
  timeout "$limit" "$@" 2>&1 | tr '\r' '\n' | grep -v '^\s*$' | tee -a "$REPORT"
  local rc=${PIPESTATUS[0]}
  echo "=== $name: exit $rc after $((SECONDS - t0)) s" | tee -a "$REPORT"
  return 0
}

step "devices" 120 "$PY" -c "
import os, jax, numpy
from rfshift import montecarlo as mc
print('jax', jax.__version__, 'numpy', numpy.__version__, 'x64', jax.numpy.zeros(1).dtype)
print('devices', jax.devices())
print('XLA_PYTHON_CLIENT_PREALLOCATE', os.environ.get('XLA_PYTHON_CLIENT_PREALLOCATE'))
"
if [ -z "${SKIP_MC:-}" ]; then
  step "validate n0=$N0" 210 "$PY" -m rfshift validate --n0 "$N0" --trials "$TRIALS"
  step "benchmark n0=$BENCH_N0" 210 "$PY" benchmarks/montecarlo.py --n0 "$BENCH_N0" --repeat 3 --numpy-repeat 1
fi
step "finite-size jax vs numpy, relu, n1=$FS_SIZES" 150 "$PY" benchmarks/finite_size.py --backend jax \
  --sizes "$FS_SIZES" --repeats 2 --threads "$THREADS"
step "finite-size jax vs numpy, tanh, n1=$FS_TANH_SIZES" 90 "$PY" benchmarks/finite_size.py --backend jax \
  --activation tanh --sizes "$FS_TANH_SIZES" --repeats 2 --threads "$THREADS"
echo "figures written to $REPORT"
