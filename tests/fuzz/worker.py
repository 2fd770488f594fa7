"""The fuzz worker: a long-lived process that counts files (with fastweights) or reads them (with
the reference), one JSON request per line on stdin, one JSON answer per line on stdout.

Each request runs under an address-space limit (RLIMIT_AS: the process's size now plus the
request's allowance) and reports how far its resident set grew (VmHWM, reset before each request).
A signal or an exit kills the process: the runner sees it and starts another."""

from __future__ import annotations

import json
import os
import resource
import sys
import traceback
import warnings
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fuzz.oracle import reference


def _status(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")


def count(path: str, spec: dict[str, Any], truncated_images: bool) -> dict[str, Any]:
    from PIL import ImageFile

    import fastweights
    from fastweights.errors import InputError

    colormap = {(r, g, b): c for r, g, b, c in spec["colormap"]} if spec.get("colormap") else None
    # What a user's process may have set for its own reasons: it must not make a truncated PNG count.
    ImageFile.LOAD_TRUNCATED_IMAGES = truncated_images
    try:
        if spec["kind"] == "raw":
            target: Any = fastweights.raw(path, spec["dtype"], tuple(spec["shape"]), offset=spec.get("offset", 0))
        elif spec["kind"] == "hdf5":
            target = f"{path}:{spec['dataset']}"
        else:
            target = path
        counts = fastweights.count(target, threads=1, colormap=colormap)
        # The statistics as the Counts file holds them (the classes present only, when most of many
        # are absent): `counts.pixels` would build a dense array as long as the largest label.
        saved = counts.to_dict()
        classes = saved.get("classes", range(len(saved["pixels"])))
        pixels = [[int(c), int(n)] for c, n in zip(classes, saved["pixels"]) if n]
        return {"kind": "counts", "pixels": pixels, "n_pixels": int(counts.n_pixels)}
    except InputError as error:
        return {"kind": "input-error", "message": str(error)[:1000]}
    except MemoryError as error:
        return {"kind": "memory", "message": f"{type(error).__name__}: {error}"[:500]}
    except Exception as error:
        frames = traceback.extract_tb(error.__traceback__)[-3:]
        where = "; ".join(f"{os.path.basename(f.filename)}:{f.lineno} {f.name}" for f in frames)
        return {
            "kind": "exception",
            "type": f"{type(error).__module__}.{type(error).__qualname__}",
            "message": str(error)[:500],
            "where": where,
        }
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = False


def serve() -> None:
    answers = os.fdopen(os.dup(1), "w")
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)  # a library's print must not mix with the answers
    warnings.simplefilter("ignore")  # fastweights says it counted integral floats: not an outcome
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    for line in sys.stdin:
        request = json.loads(line)
        _reset_peak()
        before = _status("VmRSS")
        resource.setrlimit(resource.RLIMIT_AS, (_status("VmSize") + request["allow_virtual"], hard))
        try:
            if request["op"] == "count":
                answer = count(request["path"], request["spec"], request.get("truncated_images", False))
            else:
                try:
                    answer = reference(request["path"], request["spec"])
                except MemoryError:
                    answer = {"status": "refused", "reason": "MemoryError in the reference reader", "lenient": None}
        finally:
            resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
        answer["rss_growth"] = max(0, _status("VmHWM") - before)
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    serve()
