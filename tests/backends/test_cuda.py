"""The GPU path (`device="cuda"`) against the CPU kernel: identical Counts on every dtype, layout and
source, on numba-cuda's CUDA simulator (small inputs: it runs ~10^5 labels/s) or on a real GPU when
one is seen. Tests marked `gpu` need the real thing and its speed, and skip on the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastweights
from fastweights import _core
from fastweights.backends import cuda as fw_cuda
from fastweights.errors import DeviceUnavailable, InputError

numba_cuda = pytest.importorskip("numba.cuda", reason="numba-cuda is not installed")
SIMULATED_GPU = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"  # chosen by conftest.py
real_gpu = pytest.mark.skipif(SIMULATED_GPU, reason="needs a real CUDA GPU (this run uses the simulator)")

DTYPES = ["uint8", "int8", "uint16", "int16", "uint32", "int32", "int64", "uint64", "bool", "float32", "float64"]


def blocky(size: int, classes: int, seed: int, dtype: str = "uint8", run: int = 37) -> np.ndarray:
    """Runs of one label, of random lengths around `run`: what masks look like."""
    rng = np.random.default_rng(seed)
    if size < 2:
        return rng.integers(0, classes, size).astype(dtype)
    starts = np.sort(rng.choice(np.arange(1, size), size=min(size - 1, max(1, size // run)), replace=False))
    labels = np.repeat(rng.integers(0, classes, starts.size + 1), np.diff(np.concatenate([[0], starts, [size]])))
    return labels.astype(dtype)


def on_gpu(array: np.ndarray):  # type: ignore[no-untyped-def]
    return numba_cuda.to_device(array)


@pytest.mark.filterwarnings("ignore:.*float labels, all integral")
def test_every_dtype_host_streamed_and_device_resident_equals_the_cpu() -> None:
    for position, dtype in enumerate(DTYPES):
        labels = blocky(2_003, 7, position, dtype)
        if dtype not in ("bool", "uint8", "uint16", "uint32", "uint64"):
            labels[::97] = -3 if dtype != "float32" else -3.0  # negative labels, ignored
        expected = fastweights.count(labels, ignore_index=-3 if labels.min() < 0 else None, device="cpu")
        ignore = expected.params["ignore_index"] or None
        assert fastweights.count(labels, ignore_index=ignore, device="cuda") == expected, dtype
        assert fastweights.count(on_gpu(labels), ignore_index=ignore) == expected, dtype
        assert fastweights.count(on_gpu(labels), ignore_index=ignore, device="cuda").params["device"].startswith("cuda")


def test_params_say_what_counted() -> None:
    labels = blocky(500, 3, 0)
    assert fastweights.count(labels).params["device"] == "cpu"
    assert fastweights.count(labels, device="cpu").params["device"] == "cpu"
    gpu = fastweights.count(labels, device="cuda").params["device"]
    assert gpu.startswith("cuda:0 (")
    assert fastweights.count(labels, device="auto").params["device"] == gpu
    assert fastweights.count(on_gpu(labels)).params["device"] == gpu


@settings(max_examples=25, deadline=None)
@given(
    size=st.integers(1, 300),
    offset=st.integers(0, 7),
    classes=st.sampled_from([1, 2, 5, 256]),
    run=st.sampled_from([1, 3, 4, 9, 64]),
    seed=st.integers(0, 2**16),
)
def test_bytes_any_length_offset_and_run_equal_bincount(
    size: int, offset: int, classes: int, run: int, seed: int
) -> None:
    # Lengths that are not multiples of a word, starts that are not aligned, runs across word edges.
    labels = blocky(size + offset, classes, seed, run=run)
    device = on_gpu(labels)[offset:]
    expected = np.bincount(labels[offset:], minlength=256)
    counted = fastweights.count(device, num_classes=256)
    assert np.array_equal(counted.pixels, expected)
    assert np.array_equal(fastweights.count(labels[offset:], num_classes=256, device="cuda").pixels, expected)


@settings(max_examples=15, deadline=None)
@given(values=st.lists(st.integers(0, 65535), min_size=1, max_size=200), repeat=st.integers(1, 5))
@pytest.mark.filterwarnings("ignore:fastweights. (label 255|the labels are 0 and 255):UserWarning")  # values drawn
def test_uint16_every_value_equals_bincount(values: list[int], repeat: int) -> None:
    labels = np.repeat(np.array(values, np.uint16), repeat)
    expected = fastweights.count(labels, device="cpu")
    assert fastweights.count(on_gpu(labels), device="cuda") == expected
    assert fastweights.count(labels, device="cuda") == expected


def test_every_byte_value_both_signs() -> None:
    labels = np.arange(256, dtype=np.uint8).repeat(3)
    for dtype in ("uint8", "int8"):
        view = labels.view(dtype)
        expected = fastweights.count(view, ignore_index=list(range(-128, 0)), device="cpu")
        got = fastweights.count(on_gpu(view), ignore_index=list(range(-128, 0)))
        assert got == expected and got.ignored == (384 if dtype == "int8" else 0)


class DeviceView:
    """A view of a device array given by address, shape and byte strides, exported the way CuPy or
    PyTorch export theirs; made from the same view of the array's host copy."""

    def __init__(self, device, host, view: np.ndarray) -> None:  # type: ignore[no-untyped-def]
        self.device = device  # keeps the memory alive
        offset = view.__array_interface__["data"][0] - host.__array_interface__["data"][0]
        base = getattr(device, "__cuda_array_interface__", None) or device.__array_interface__
        self.interface = {
            "shape": view.shape,
            "strides": view.strides,
            "typestr": view.dtype.str,
            "data": (base["data"][0] + offset, False),
            "version": 2,
        }

    @property
    def __cuda_array_interface__(self) -> dict:  # type: ignore[type-arg]
        return self.interface


def test_layouts_of_device_arrays() -> None:
    volume = blocky(4 * 6 * 10 * 3, 9, 1).reshape(4, 6, 10, 3)
    device = on_gpu(volume)
    views = {
        "transposed": volume.transpose(2, 0, 3, 1),
        "Fortran order": volume.T,
        "strided 1-D": volume.reshape(-1)[::3],
        "strided 2-D": volume[0, :, ::2, 0],
        "strided 3-D": volume[1:, ::2, :, 1],
        "strided 4-D": volume[:, :, ::3, :],
        "reversed": volume[::-1, :, ::-1],
        "reversed and strided": volume[::-2, 1, ::-3],
        "broadcast": np.broadcast_to(volume[:1, :1], (3, 6, 10, 3)),
        "one element": volume[2:3, 4:5, 7, 1:2],
    }
    for case, view in views.items():
        assert np.shares_memory(view, volume), case
        expected = fastweights.count(np.ascontiguousarray(view), device="cpu")
        assert fastweights.count(DeviceView(device, volume, view)) == expected, case
        per_slice = fastweights.count(np.ascontiguousarray(view), stack_axis=0, per_image=True, device="cpu")
        assert fastweights.count(DeviceView(device, volume, view), stack_axis=0, per_image=True) == per_slice, case


def test_stack_axis_and_per_image_presence() -> None:
    stack = blocky(5 * 20 * 30, 6, 2).reshape(5, 20, 30)
    stack[3] = 4  # one image of one class
    for axis in (0, 1, -1):
        expected = fastweights.count(stack, stack_axis=axis, per_image=True, device="cpu")
        assert fastweights.count(on_gpu(stack), stack_axis=axis, per_image=True) == expected
        assert fastweights.count(stack, stack_axis=axis, per_image=True, device="cuda") == expected
    counted = fastweights.count(on_gpu(stack), stack_axis=0, per_image=True)
    assert counted.per_image[3].tolist() == [0, 0, 0, 0, 600, 0] and counted.images[4] == 5


def test_known_bounds_and_labels_outside_them() -> None:
    labels = blocky(3_000, 10, 3, "uint16")
    labels[100:110] = 300  # outside num_classes: the error names it, as on the CPU
    with pytest.raises(InputError, match=r"label 300 \(10 pixels\) is not below num_classes=10"):
        fastweights.count(on_gpu(labels), num_classes=10)
    with pytest.raises(InputError, match=r"label 300 \(10 pixels\) is not below num_classes=10"):
        fastweights.count(labels, num_classes=10, device="cuda")
    expected = fastweights.count(labels, num_classes=10, ignore_index=300, device="cpu")
    assert fastweights.count(on_gpu(labels), num_classes=10, ignore_index=300) == expected
    assert fastweights.count(labels, num_classes=10, ignore_index=300, device="cuda") == expected


def test_sparse_labels_in_windows_and_on_the_host() -> None:
    for top in (3 << 20, 40 << 20):  # three 2**20-label windows; beyond 16, the host's sparse kernel
        labels = np.array([0, 5, 5, top, -1, 7, top, 0] * 40, np.int64)
        expected = fastweights.count(labels, ignore_index=[-1, top], device="cpu")
        assert fastweights.count(on_gpu(labels), ignore_index=[-1, top]) == expected
        assert fastweights.count(labels, ignore_index=[-1, top], device="cuda") == expected
    huge = np.array([1, 2**62, 1], np.int64)
    with pytest.raises(InputError, match="too large for a class id"):
        fastweights.count(on_gpu(huge))
    too_big = np.array([1, 2**63 + 5], np.uint64)
    with pytest.raises(InputError, match="too large to be a class id"):
        fastweights.count(on_gpu(too_big))


def test_ranges_guessed_from_a_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    # Big arrays of wide labels are counted in one pass over a range guessed from a sample; labels
    # the sample missed are counted again, exactly.
    monkeypatch.setattr(fw_cuda.counter, "SAMPLED_RANGE_MIN_LABELS", 64)
    calls: list[str] = []
    for method in ("_sampled_range", "_min_max"):
        original = getattr(fw_cuda.GpuCounter, method)

        def spy(self, *args, original=original, method=method):  # type: ignore[no-untyped-def]
            calls.append(method)
            return original(self, *args)

        monkeypatch.setattr(fw_cuda.GpuCounter, method, spy)
    for dtype, rare in (("uint16", 40_000), ("int32", -7), ("int64", 3_000_000), ("int16", 300)):
        labels = blocky(3_000, 30, 8, dtype)
        expected = fastweights.count(labels, device="cpu")
        calls.clear()
        assert fastweights.count(on_gpu(labels)) == expected, dtype
        assert calls == ["_sampled_range"], (dtype, calls)  # one pass: the guess held every label
        labels[1_001:1_004:2] = rare  # odd positions: the sample takes every second label
        expected = fastweights.count(labels, ignore_index=rare, device="cpu")
        calls.clear()
        assert fastweights.count(on_gpu(labels), ignore_index=rare) == expected, dtype
        assert calls == ["_sampled_range", "_min_max"], (dtype, calls)  # the missed labels, counted again
        assert fastweights.count(labels, ignore_index=rare, device="cuda") == expected, dtype


def test_float_labels_on_the_device() -> None:
    labels = blocky(1_000, 4, 4, "float32")
    with pytest.warns(UserWarning, match="all integral"):
        got = fastweights.count(on_gpu(labels))
    with pytest.warns(UserWarning, match="all integral"):
        assert got == fastweights.count(labels, device="cpu")
    for bad, reason in ((0.5, "non-integral value 0.5"), (np.nan, "non-finite value nan"), (np.inf, "non-finite")):
        broken = labels.copy()
        broken[500] = bad
        with pytest.raises(InputError, match=rf"<array 0>: float labels with {reason}.*intensity image"):
            fastweights.count(on_gpu(broken))
    with pytest.raises(InputError, match="out of the int64 range"):
        fastweights.count(on_gpu(np.array([1.0, 1e19])))


def test_streamed_in_many_pieces_through_every_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pieces of 64 bytes: the slots are reused many times within an image, and across images.
    monkeypatch.setattr(fw_cuda.stream, "PIECE_BYTES", 64)
    monkeypatch.setattr(fw_cuda.GpuCounter, "slots", lambda self: [fw_cuda.stream._Slot(self.cuda) for _ in range(3)])
    images = [blocky(1_001, 5, seed) for seed in range(3)] + [blocky(999, 300, 9, "int32")]
    expected = fastweights.count(images, per_image=True, device="cpu")
    assert fastweights.count(images, per_image=True, device="cuda") == expected


def test_files_read_on_the_host_are_counted_on_the_gpu(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(fastweights.io.images, "CHUNK_BYTES", 1_000)  # a memory map in several chunks
    for index in range(3):
        np.save(tmp_path / f"{index}.npy", blocky(3_000, 6, index, "uint8" if index else "int16").reshape(30, 100))
    expected = fastweights.count(tmp_path, per_image=True, device="cpu")
    assert fastweights.count(tmp_path, per_image=True, device="cuda") == expected
    assert fastweights.count(tmp_path, per_image=True, device="cuda", threads=2) == expected


def test_many_small_arrays_from_several_threads() -> None:
    arrays = [blocky(200, 4, seed) for seed in range(24)]
    expected = fastweights.count(arrays, per_image=True, device="cpu")
    assert fastweights.count(arrays, per_image=True, device="cuda", threads=4) == expected
    assert fastweights.count([on_gpu(array) for array in arrays], per_image=True, threads=4) == expected


def test_real_masks_on_the_gpu(real_data) -> None:  # type: ignore[no-untyped-def]
    twins = sorted((real_data / "voc_labelme").rglob("*.npy"))[:2]
    volume = sorted((real_data / "formats").rglob("*.nii*"))
    inputs = [str(path) for path in twins] + [str(path) for path in volume if "label" in path.name][:1]
    assert inputs
    expected = fastweights.count(inputs, ignore_index=[-1, 255], per_image=True, device="cpu")
    assert fastweights.count(inputs, ignore_index=[-1, 255], per_image=True, device="cuda") == expected


def test_device_arrays_and_device_cpu() -> None:
    with pytest.raises(TypeError, match=r"<array 0>: a CUDA device array, and device='cpu'"):
        fastweights.count(on_gpu(np.zeros(4, np.uint8)), device="cpu")
    with pytest.raises(ValueError, match="device='gpu'"):
        fastweights.count(np.zeros(4, np.uint8), device="gpu")


def test_cpu_counts_never_import_numba() -> None:
    script = textwrap.dedent(
        """
        import sys, numpy as np, fastweights
        fastweights.count(np.zeros(10, np.uint8))
        fastweights.count(np.zeros(10, np.uint8), device="cpu")
        print(sorted(name for name in sys.modules if name.split(".")[0] in ("numba", "numba_cuda")))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _without_gpu(script: str) -> subprocess.CompletedProcess[str]:
    """Runs a script where numba-cuda finds no GPU (no simulator, and no driver visible)."""
    environment = {**os.environ, "NUMBA_ENABLE_CUDASIM": "0", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, env=environment
    )


def test_no_gpu_is_a_clear_error_and_auto_falls_back_to_the_cpu() -> None:
    result = _without_gpu(
        """
        import numpy as np, fastweights
        from fastweights.errors import DeviceUnavailable
        print(fastweights.count(np.zeros(10, np.uint8), device="auto").params["device"])
        try:
            fastweights.count(np.zeros(10, np.uint8), device="cuda")
        except DeviceUnavailable as error:
            print(error)
        """
    )
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "cpu", result.stderr
    assert lines[1].startswith("device='cuda': numba-cuda") and lines[1].endswith("count on the CPU with device='cpu'")
    assert issubclass(DeviceUnavailable, RuntimeError)


def test_missing_numba_cuda_names_the_extra() -> None:
    result = _without_gpu(
        """
        import sys, numpy as np, fastweights
        sys.modules["numba_cuda"] = None  # as if it were not installed
        try:
            fastweights.count(np.zeros(10, np.uint8), device="cuda")
        except ImportError as error:
            print(error)
        print(fastweights.count(np.zeros(10, np.uint8), device="auto").params["device"])
        """
    )
    assert 'pip install "fastweights[cuda]"' in result.stdout and result.stdout.strip().endswith("cpu"), result.stderr


def test_a_numba_cuda_that_fails_to_import_is_a_clear_error() -> None:
    """As on a real H200 machine: numba-cuda 0.30.4 under numpy 2.5 raised AttributeError (no
    np.row_stack) from inside its own import."""
    result = _without_gpu(
        """
        import builtins, numpy as np, fastweights
        real_import = builtins.__import__
        def broken(name, *args, **kwargs):
            if name == "numba_cuda":
                raise AttributeError("module 'numpy' has no attribute 'row_stack'")
            return real_import(name, *args, **kwargs)
        builtins.__import__ = broken
        try:
            fastweights.count(np.zeros(10, np.uint8), device="cuda")
        except ImportError as error:
            print(error)
        print(fastweights.count(np.zeros(10, np.uint8), device="auto").params["device"])
        """
    )
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("numba-cuda is installed but cannot be imported (AttributeError: "), result.stderr
    assert "row_stack" in lines[0] and lines[-1] == "cpu"


def test_kernels_compile_for_real_gpus() -> None:
    """The simulator runs the kernels as Python; this compiles them as a GPU would (numba's CUDA
    type inference, then NVVM to PTX, for Turing and Hopper), with every signature the counter
    launches. Needs the CUDA toolkit's NVVM and NVRTC (or numba-cuda[cu12]), not a GPU."""
    result = _without_gpu(
        """
        import itertools
        from types import SimpleNamespace
        from numba import cuda
        import numba.cuda.dispatcher
        from fastweights.backends.cuda import kernels as k
        # Device functions are compiled for the current device's compute capability: there is no
        # device here, so name one. Turing (7.5) is the oldest that CUDA 13's NVRTC compiles for (a real
        # H200 run refused 7.0); its PTX is also what newer GPUs can run.
        numba.cuda.dispatcher.get_current_device = lambda: SimpleNamespace(compute_capability=(7, 5))
        ranged = "void({}[::1], int64, int64, int64, int64, uint64[::1], uint64[::1])"
        labels = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "int64")
        signatures = [(k.byte_words, "void(uint32[::1], uint64[::1])")]
        signatures += [(kernel, ranged.format(t)) for kernel in (k.ranged_shared, k.ranged_global) for t in labels]
        signatures += [(k.min_max, f"void({t}[::1], int64, int64, int64[::1])") for t in labels]
        floats = ("float16", "float32", "float64")
        signatures += [(k.floats_to_int64, f"void({t}[::1], int64[::1], int64[::1])") for t in floats]
        for t in (*labels, "bool", "float32"):
            signatures += [(k.gather_1d, f"void({t}[:], {t}[::1])"), (k.gather_2d, f"void({t}[:, :], {t}[::1])"),
                           (k.gather_3d, f"void({t}[:, :, :], {t}[::1])")]
        try:
            for (kernel, signature), cc in itertools.product(signatures, [(7, 5), (9, 0)]):
                ptx, _ = cuda.compile_ptx(kernel.py_func, signature, cc=cc)
                assert ".entry" in ptx, signature
        except Exception as error:  # the CUDA toolkit's compilers missing: NVVM, or NVRTC
            found = f"{type(error).__name__} {error}".lower()
            if any(part in found for part in ("nvvm", "nvrtc", "dynamiclibnotfound")):
                print("no CUDA toolkit:", " ".join(str(error).split())[:300])
                raise SystemExit(0)
            raise
        print("compiled", len(signatures) * 2)
        """
    )
    assert result.returncode == 0, result.stderr
    if result.stdout.startswith("no CUDA toolkit"):
        pytest.skip(f"{result.stdout.strip()}: pip install 'numba-cuda[cu12]' to run this check")
    assert result.stdout.strip() == "compiled 104"


def test_cli_device_option(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from fastweights.cli import main

    np.save(tmp_path / "a.npy", blocky(2_000, 3, 0))
    assert main(["count", str(tmp_path), "--device", "cuda", "--format", "json", "-q"]) == 0
    gpu = capsys.readouterr().out
    assert main(["count", str(tmp_path), "--format", "json", "-q"]) == 0
    cpu = capsys.readouterr().out
    assert fastweights.Counts.from_dict(json.loads(gpu)) == fastweights.Counts.from_dict(json.loads(cpu))


def test_gpu_benchmark_script_runs_and_checks_its_counts(capsys) -> None:  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    try:
        import gpu_bench
    finally:
        sys.path.pop(0)
    assert gpu_bench.main(["--simulator", "--mib", "0.015625", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    for case in ("masks", "binary", "random", "zeros", "uint16", "int32"):
        assert f"| {case}: " in out
    assert out.count("| device-resident |") == 6 and out.count("| host-streamed |") == 6
    assert out.count("| file-streamed (.npy, page cache) |") == 6
    assert out.count("reference: no run-awareness") == 4
    assert "the CPU filling the pinned staging buffers" in out


# ---- on a real GPU only -------------------------------------------------------------------------


@real_gpu
@pytest.mark.gpu
def test_large_arrays_every_case_on_a_real_gpu() -> None:
    size = 64 << 20
    rng = np.random.default_rng(0)
    cases = {
        "blocky": blocky(size, 20, 0, run=4096),
        "binary": blocky(size, 2, 1, run=4096),
        "random": rng.integers(0, 256, size, dtype=np.uint8),
        "zeros": np.zeros(size, np.uint8),
        "uint16": blocky(size // 2, 3000, 2, "uint16", run=512),
        "int32 sparse": (blocky(size // 4, 50, 3, "int32", run=512) * 40_000 - 1),
    }
    for case, labels in cases.items():
        expected = fastweights.count(labels, ignore_index=-1, device="cpu")
        assert fastweights.count(on_gpu(labels), ignore_index=-1) == expected, case
        assert fastweights.count(labels, ignore_index=-1, device="cuda") == expected, case


@real_gpu
@pytest.mark.gpu
def test_torch_and_cupy_device_arrays_without_a_copy() -> None:
    labels = blocky(1 << 20, 12, 5).reshape(1024, 1024)
    expected = fastweights.count(labels, stack_axis=0, per_image=True, device="cpu")
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        tensor = torch.from_numpy(labels).cuda()
        assert fastweights.count(tensor, stack_axis=0, per_image=True) == expected
        assert fastweights.count(tensor.long(), stack_axis=0, per_image=True) == expected
        # the same images, read through a transposed view (a different stack_axis in the params)
        assert fastweights.count(tensor.t(), stack_axis=1, per_image=True) == fastweights.count(
            labels.T, stack_axis=1, per_image=True, device="cpu"
        )
    cupy = pytest.importorskip("cupy")
    assert fastweights.count(cupy.asarray(labels), stack_axis=0, per_image=True) == expected


@real_gpu
@pytest.mark.gpu
def test_arrays_on_a_second_gpu_are_counted_there() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.device_count() < 2:
        pytest.skip("needs two GPUs")
    labels = blocky(1 << 16, 7, 6)
    counted = fastweights.count(torch.from_numpy(labels).to("cuda:1"))
    assert counted == fastweights.count(labels, device="cpu")
    assert counted.params["device"].startswith("cuda:1 (")


@real_gpu
@pytest.mark.gpu
def test_readme_gpu_snippet_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """The example of docs/gpu.md (test_readme_snippets.py checks that it is found)."""
    from helpers import gpu_snippet

    from fastweights.api.demo import write_demo_masks

    pytest.importorskip("torch")
    (tmp_path / "masks").mkdir()
    write_demo_masks(tmp_path / "masks")
    monkeypatch.chdir(tmp_path)
    names: dict = {}
    exec(compile(gpu_snippet(), "docs/gpu.md", "exec"), names)
    assert capsys.readouterr().out.startswith("cuda:")
    assert names["counts"] == fastweights.count("masks/", device="cpu")


def test_the_staging_buffers_are_filled_with_the_threads_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    # The count's threads, not the machine's: the copy into the pinned buffers is CPU work too.
    copied_with: list[int] = []
    original = _core.copy_bytes

    def spy(target, source, threads):  # type: ignore[no-untyped-def]
        copied_with.append(threads)
        return original(target, source, threads)

    monkeypatch.setattr(_core, "copy_bytes", spy)
    labels = blocky(3_000, 5, 1)
    for threads in (1, 3):
        copied_with.clear()
        assert fastweights.count(labels, threads=threads, device="cuda") == fastweights.count(labels, device="cpu")
        assert copied_with and set(copied_with) == {threads}
