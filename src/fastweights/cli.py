"""The `fastweights` command line: count, weights, demo, info."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

from ._optional import MissingDependency
from .colormaps import BUILTIN
from .counts import Counts
from .errors import InputError
from .table import format_table
from .weights import SCHEMES

__all__ = ["main"]

EXIT_OK, EXIT_BAD_DATA, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            # The skipped files are listed in the output; the library's summary warning would repeat it.
            warnings.filterwarnings("ignore", message="fastweights: skipped")
            return int(args.run(args))
    except KeyboardInterrupt:
        print("fastweights: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (InputError, MissingDependency, FileNotFoundError, PermissionError) as error:
        return _fail(args, error, EXIT_BAD_DATA)
    except (ValueError, TypeError) as error:
        return _fail(args, error, EXIT_USAGE)


def _fail(args: argparse.Namespace, error: Exception, code: int) -> int:
    if args.debug:
        raise error
    print(f"fastweights: error: {error}", file=sys.stderr)
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastweights", description="Exact per-class pixel counts of segmentation masks, and class weights."
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    count = commands.add_parser("count", help="count the classes of mask files, folders or globs")
    count.add_argument("paths", nargs="+", metavar="PATH")
    count.add_argument("--num-classes", type=int, metavar="N")
    count.add_argument("--ignore-index", type=int, nargs="+", metavar="I", help="label(s) to leave out, e.g. 255")
    count.add_argument("--threads", type=int, metavar="T")
    count.add_argument("--stack-axis", type=int, metavar="AXIS", help="count each slice along AXIS as an image")
    count.add_argument("--per-image", action="store_true", help="keep the per-image table in the saved counts")
    count.add_argument("--colormap", metavar="NAME|FILE", help="RGB masks: voc, cityscapes, camvid or a JSON file")
    count.add_argument("--unknown-color", choices=["error", "ignore"], default="error")
    count.add_argument("--allow-lossy", action="store_true", help="count JPEG masks anyway")
    count.add_argument("--on-error", choices=["raise", "skip"], default="raise", help="skip bad files and list them")
    count.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _weight_options(count)
    count.add_argument("-o", "--output", metavar="FILE", help="save the counts as JSON, to recompute weights later")
    count.set_defaults(run=_count)

    weights = commands.add_parser("weights", help="class weights from saved counts, without counting again")
    weights.add_argument("counts", metavar="COUNTS.json")
    _weight_options(weights)
    weights.add_argument("--format", choices=["table", "json"], default="table")
    weights.set_defaults(run=_weights)

    demo = commands.add_parser("demo", help="count a built-in synthetic mask set and print its weights")
    demo.add_argument("--scheme", choices=sorted(SCHEMES), default="median")
    demo.set_defaults(run=_demo)

    info = commands.add_parser("info", help="version, kernel, OpenMP and threads")
    info.set_defaults(run=_info)
    return parser


def _weight_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scheme", choices=sorted(SCHEMES), default="median", help="weighting scheme (default: median)"
    )
    parser.add_argument("--normalize", choices=["sum", "mean", "max"])


def _count(args: argparse.Namespace) -> int:
    from .engine import count

    counts = count(
        args.paths,
        num_classes=args.num_classes,
        ignore_index=args.ignore_index,
        threads=args.threads,
        per_image=args.per_image,
        stack_axis=args.stack_axis,
        colormap=args.colormap,
        unknown_color=args.unknown_color,
        allow_lossy=args.allow_lossy,
        on_error=args.on_error,
        progress=not args.quiet,
    )
    names = BUILTIN[args.colormap][1] if args.colormap in BUILTIN else ()
    print(format_table(counts, counts.weights(args.scheme, normalize=args.normalize), args.scheme, names))
    for name, reason in counts.errors:
        print(f"skipped {name}: {reason}")
    if args.output:
        counts.save(args.output)
        print(f"counts saved to {args.output}")
    return EXIT_OK


def _weights(args: argparse.Namespace) -> int:
    counts = Counts.load(args.counts)
    weights = counts.weights(args.scheme, normalize=args.normalize)
    if args.format == "json":
        print(json.dumps({"scheme": args.scheme, "normalize": args.normalize, "weights": weights.tolist()}))
    else:
        print(format_table(counts, weights, args.scheme))
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from .demo import CLASS_NAMES, IGNORE_INDEX, write_demo_masks
    from .engine import count

    with tempfile.TemporaryDirectory(prefix="fastweights-demo-") as folder:
        paths = write_demo_masks(Path(folder))
        print(f"Wrote {len(paths)} synthetic street-scene masks (.npy, 255 = void) to {folder}")
        counts = count(folder, num_classes=len(CLASS_NAMES), ignore_index=IGNORE_INDEX)
    print(format_table(counts, counts.weights(args.scheme), args.scheme, CLASS_NAMES))
    print()
    print("The same counts give every scheme without counting again:")
    for scheme in sorted(SCHEMES):
        values = ", ".join(f"{w:.3f}" for w in counts.weights(scheme))
        print(f"  {scheme:<10} [{values}]")
    return EXIT_OK


def _info(args: argparse.Namespace) -> int:
    from .config import show_config

    show_config()
    return EXIT_OK
