#!/usr/bin/env bash
# The whole GPU check in one command, for a machine with an NVIDIA GPU and no network (the CUDA
# toolkit, numba-cuda, CuPy, PyTorch, pytest, hypothesis, scikit-build-core and pybind11 installed):
# builds fastweights, runs the GPU tests on the device (not the simulator), then the GPU benchmark.
#     bash benchmarks/gpu_device_check.sh [RESULTS_FOLDER [gpu_bench.py options]]
# RESULTS_FOLDER (default: $OUT, else ./gpu-results) receives the logs, the benchmark's section and
# a profile of the counting kernels (when Nsight Compute's ncu is on the PATH).
set -uo pipefail
cd "$(dirname "$0")/.."
results=${1:-${OUT:-gpu-results}}
shift || true
mkdir -p "$results"
export PYTHONUNBUFFERED=1 NUMBA_ENABLE_CUDASIM=0
python=${PYTHON:-python3}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$results/device.txt"
$python -c "import numba, numba_cuda, numpy; print('numba', numba.__version__, 'numba-cuda', numba_cuda.__version__, 'numpy', numpy.__version__)" | tee -a "$results/device.txt"
CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) $python -m pip install -q --no-build-isolation --no-deps . 2>&1 | tail -5
timeout "${TEST_SECONDS:-240}" $python -m pytest -p no:cacheprovider -q -rs tests/backends/test_cuda.py tests/backends/test_device_layout.py 2>&1 | tee "$results/tests.log" | tail -40
timeout "${BENCH_SECONDS:-300}" $python benchmarks/gpu_bench.py --write "$@" 2>&1 | tee "$results/bench.log" | tail -60
cp BENCHMARKS.md "$results/BENCHMARKS.md"
if [ "${PROFILE_SECONDS:-90}" != 0 ] && command -v ncu >/dev/null; then
  for kernel in byte_words ranged_shared; do
    timeout "${PROFILE_SECONDS:-90}" ncu --clock-control none --kernel-name "regex:$kernel" --launch-skip 1 \
      --launch-count 1 --section SpeedOfLight --section Occupancy --section LaunchStats \
      $python benchmarks/gpu_profile_target.py > "$results/ncu-$kernel.txt" 2>&1
    grep -E "Duration|Throughput|Achieved Occupancy|Registers Per|Block Size|Grid Size|==PROF==|Error" "$results/ncu-$kernel.txt" | head -30
  done
fi
