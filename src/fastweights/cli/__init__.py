"""The `fastweights` command line: count, weights, merge, demo, info.

Tables, JSON and CSV go to stdout; messages (saved files, errors) to stderr, so that the output of
`--format json|csv` can be piped. Exit codes: 0 success, 1 bad data, 2 usage error, 130 interrupted
(143 by SIGTERM; with --checkpoint, after saving it), 141 the output pipe closed early (`| head`).

The top floor: may import every floor below (`fastweights.api` and what it stands on).
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..api import export
from ..api.table import format_table, format_weights
from ..base._optional import MissingDependency, require
from ..base._version import __version__
from ..base.errors import DeviceUnavailable, InputError, Interrupted
from ..engine.settings import MAX_CLASSES
from ..io.coco import CocoSet, coco_instances, coco_panoptic, names_by_id
from ..io.colormaps import BUILTIN
from ..model.class_names import BUILTIN_NAMES, resolve_class_names, warn_if_mismatched
from ..model.counts import Counts
from ..model.label_maps import resolve_label_map
from ..model.weights import SCHEME_PARAMS, SCHEMES, check_options

__all__ = ["main"]

EXIT_OK, EXIT_BAD_DATA, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_PIPE_CLOSED = 0, 1, 2, 130, 141

COUNT_FORMATS = ("table", "json", "csv")
WEIGHT_FORMATS = ("table", "json", "csv", "torch", "keras", "mmseg")


class UsageError(ValueError):
    """Arguments that do not go together, or a file given as an option that cannot be used."""


def main(argv: Sequence[str] | None = None) -> int:
    _escape_undecodable_names()
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "count" and not (args.paths or args.coco_panoptic or args.coco_instances):
        parser.error("count: give the masks to count: PATH(s), --coco-panoptic or --coco-instances")
    shown_as = warnings.formatwarning
    try:
        with warnings.catch_warnings():
            # The skipped files are listed in the output; the library's summary warning would repeat it.
            warnings.filterwarnings("ignore", message="fastweights: skipped")
            warnings.formatwarning = _one_line_warning
            # So are the voxel sizes, in the table's notes and the JSON's "voxels".
            warnings.filterwarnings("ignore", message="fastweights: the masks have .* voxel sizes")
            return int(args.run(args))
    except Interrupted as stop:
        print(f"fastweights: {stop}", file=sys.stderr)
        return 128 + stop.signal_number
    except KeyboardInterrupt:
        print("fastweights: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): no traceback, and nothing more written at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE_CLOSED
    except (
        InputError,
        MissingDependency,
        DeviceUnavailable,
        FileNotFoundError,
        PermissionError,
        IsADirectoryError,
    ) as error:
        return _fail(args, error, EXIT_BAD_DATA, parser)
    except (ValueError, TypeError) as error:
        return _fail(args, error, EXIT_USAGE, parser)
    finally:
        warnings.formatwarning = shown_as


def _one_line_warning(
    message: Warning | str, category: type[Warning], filename: str, lineno: int, line: str | None = None
) -> str:
    """A warning as the command line says it: one line, as its errors, without the Python source
    line that raised it."""
    text = " ".join(str(message).split()).removeprefix("fastweights: ")
    return f"fastweights: warning: {text}\n"


def _escape_undecodable_names() -> None:
    """A file name that is not valid UTF-8 (a str holding surrogate escapes) is printed escaped
    (mask_\\udcff.png), as Python prints it on stderr, instead of failing the whole output in a
    locale whose stdout is strict."""
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def _fail(args: argparse.Namespace, error: Exception, code: int, parser: argparse.ArgumentParser) -> int:
    if args.debug:
        raise error
    if getattr(error, "reported_elsewhere", False):  # another MPI rank prints it
        return code
    print(f"fastweights: error: {in_flags(_one_line(error), keyword_flags(parser))}", file=sys.stderr)
    return code


def keyword_flags(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Python keyword -> its flag, for every option of every subcommand that gives a keyword of
    `count()` or `Counts.weights`: the flag's dest is the keyword (--num-classes -> num_classes), so
    a flag added for a new keyword joins the table by itself. Other flags (--format, --output) are
    left out: a message's format= is not theirs."""
    from ..api.count import count

    keywords = set(inspect.signature(count).parameters) | set(inspect.signature(Counts.weights).parameters)
    keywords |= {name for names in SCHEME_PARAMS.values() for name in names}
    table: dict[str, str] = {}
    parsers = [parser]
    while parsers:
        for action in parsers.pop()._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
            elif action.option_strings and action.dest in keywords:
                table[action.dest] = max(action.option_strings, key=len)
    return table


def in_flags(message: str, flags: dict[str, str]) -> str:
    """The library's message in the words of the command line: each `keyword=value` that names a
    keyword with a flag becomes `--flag value` (num_classes=-3 -> --num-classes -3; True, a flag
    alone; None, no flag; quotes dropped). A keyword counts only after a space, a bracket or the
    start, so that a path such as /data/seed=3/mask.png is left alone."""
    if not flags:
        return message
    keys = "|".join(sorted(map(re.escape, flags), key=len, reverse=True))
    pattern = rf"(?<![^\s(\[,;])(?P<key>{keys})=(?P<value>True(?: \(--[\w-]+\))?|None\b|'[^']*'|\"[^\"]*\"|(?=\s|$))?"

    def flag(match: re.Match[str]) -> str:
        name, value = flags[match["key"]], match["value"]
        if value is None:  # a value follows as it is
            return f"{name} "
        if value.startswith("True") or value == "":
            return name
        if value == "None":
            return f"no {name}"
        return f"{name} {value[1:-1]}"

    return re.sub(pattern, flag, message)


def _one_line(error: Exception) -> str:
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror or error}"
    return " ".join(str(error).split())


# ---- arguments ---------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastweights", description="Exact per-class pixel counts of segmentation masks, and class weights."
    )
    parser.add_argument("--version", action="version", version=f"fastweights {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    count = commands.add_parser("count", help="count the classes of mask files, folders or globs")
    count.add_argument("paths", nargs="*", metavar="PATH")
    count.add_argument(
        "--coco-panoptic",
        nargs=2,
        action="append",
        default=[],
        metavar=("ANNOTATIONS.json", "PNG_FOLDER"),
        help="a COCO-panoptic set: its JSON and PNG folder, counted by category id (repeatable)",
    )
    count.add_argument(
        "--coco-instances",
        action="append",
        default=[],
        metavar="ANNOTATIONS.json",
        help="COCO instance or stuff annotations, counted by category id (repeatable; polygons need pycocotools)",
    )
    count.add_argument(
        "--coco-no-crowd",
        action="store_true",
        help="--coco-instances: leave crowd annotations out, as cocostuffapi's PNG export does",
    )
    count.add_argument("--num-classes", type=int, metavar="N")
    count.add_argument("--ignore-index", type=int, nargs="+", metavar="I", help="label(s) to leave out, e.g. 255")
    count.add_argument("--colormap", metavar="NAME|FILE", help="RGB masks: voc, cityscapes, camvid or a JSON file")
    count.add_argument("--unknown-color", choices=["error", "ignore"], default="error")
    count.add_argument(
        "--label-map",
        metavar="NAME|FILE",
        help="source label -> class: cityscapes (labelIds to trainIds), compact (the labels met become 0..K-1) "
        'or a JSON file ({"source": target} or a list)',
    )
    count.add_argument(
        "--reduce-zero-label",
        action="store_true",
        help="mmsegmentation's convention: 0 ignored, k -> k-1, 255 ignored (after --label-map)",
    )
    _names_option(count, "the names of a built-in --colormap")
    count.add_argument("--threads", type=int, metavar="T")
    count.add_argument(
        "--device",
        choices=["cpu", "cuda", "auto"],
        help="where arrays read from files are counted: cpu (default), cuda (a GPU, needs numba-cuda), "
        "auto (the GPU when one is usable)",
    )
    count.add_argument("--stack-axis", type=int, metavar="AXIS", help="count each slice along AXIS as an image")
    count.add_argument("--per-image", action="store_true", help="keep the per-image table in the saved counts")
    count.add_argument("--allow-lossy", action="store_true", help="count JPEG masks anyway")
    count.add_argument("--on-error", choices=["raise", "skip"], default="raise", help="skip bad files and list them")
    count.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="save progress to FILE (every --checkpoint-every seconds, and on Ctrl-C or SIGTERM); "
        "rerunning the same command resumes",
    )
    count.add_argument("--checkpoint-every", type=float, default=60.0, metavar="SECONDS", help="default 60")
    count.add_argument(
        "--cache", metavar="FILE", help="an SQLite file of per-file counts: a rerun counts only new or changed files"
    )
    count.add_argument(
        "--sample",
        type=float,
        metavar="SHARE|N",
        help="estimate from a random share of the inputs (0.05), or N of them, with confidence intervals",
    )
    count.add_argument("--seed", type=int, default=0, help="the random sample's seed (default 0)")
    count.add_argument(
        "--shard", metavar="i/N", help="count only the i-th of N shares balanced by bytes (a job array's task)"
    )
    count.add_argument("--mpi", action="store_true", help="count across the ranks of mpiexec / srun (needs mpi4py)")
    count.add_argument(
        "--storage-option",
        "--storage-options",  # the keyword's spelling, which messages about storage_options= name
        dest="storage_options",
        action="append",
        type=_storage_option,
        metavar="KEY=VALUE",
        help="for s3:// gs:// az:// https:// paths, an fsspec option (repeatable); VALUE as JSON when it parses "
        "(true, 3, {...}), else a string: --storage-option anon=true",
    )
    count.add_argument(
        "--drop-behind",
        action="store_true",
        help="drop each file's pages from the page cache once counted, so that a count over more data than "
        "memory does not push other files out of it",
    )
    _weight_options(count)
    count.add_argument("-o", "--output", metavar="FILE", help="save the counts as JSON, to recompute weights later")
    count.add_argument("--format", choices=COUNT_FORMATS, default="table", help="what to print (default: table)")
    count.add_argument("--plot", metavar="FILE.png", help="a chart of class shares and weights (needs matplotlib)")
    count.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    count.set_defaults(run=_count)

    weights = commands.add_parser("weights", help="class weights from saved counts, without counting again")
    weights.add_argument("counts", metavar="COUNTS.json")
    _weight_options(weights)
    _names_option(weights, "those saved with the counts")
    weights.add_argument(
        "--format",
        choices=WEIGHT_FORMATS,
        default="table",
        help="table, json, csv, or a line for torch (CrossEntropyLoss weight) or mmseg (loss class_weight), or "
        "keras: the per-pixel sample_weight recipe (Keras' class_weight does not take masks)",
    )
    weights.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write to FILE instead of printing; --format torch with FILE.pt saves a tensor, "
        "--format mmseg with FILE.npy or FILE.json the file mmsegmentation reads",
    )
    weights.add_argument("--plot", metavar="FILE.png", help="a chart of class shares and weights (needs matplotlib)")
    weights.set_defaults(run=_weights)

    merge = commands.add_parser("merge", help="add saved counts (of parts of a data set) into one file")
    merge.add_argument("inputs", nargs="+", metavar="COUNTS.json")
    merge.add_argument("-o", "--output", required=True, metavar="FILE", help="where to save the sum")
    merge.set_defaults(run=_merge)

    demo = commands.add_parser("demo", help="count a built-in synthetic mask set and print its weights")
    demo.add_argument("--scheme", choices=sorted(SCHEMES), default="median")
    demo.set_defaults(run=_demo)

    info = commands.add_parser("info", help="version, kernel, instruction sets, threads, extras, GPUs")
    info.set_defaults(run=_info)
    return parser


def _weight_options(parser: argparse.ArgumentParser) -> None:
    """The keywords of `Counts.weights`, each a flag of the same name (the scheme's own parameters
    default to None: not given, the scheme's default)."""
    parser.add_argument(
        "--scheme", choices=sorted(SCHEMES), default="median", help="weighting scheme (default: median)"
    )
    parser.add_argument("--normalize", choices=["sum", "mean", "max"], help="scale the weights (default: as published)")
    parser.add_argument(
        "--absent",
        type=_absent,
        default=0.0,
        metavar="0|max|error",
        help="weight of a class with no pixels: a number (default 0), the largest weight, or an error",
    )
    parser.add_argument(
        "--clip",
        type=_clip,
        metavar="HIGH|LOW:HIGH",
        help="bound the weights after --normalize (e.g. 10, 0.1:10, 0.1:)",
    )
    parser.add_argument("--k", type=float, metavar="K", help="enet: 1 / ln(k + f_c), k > 1 (default 1.02)")
    parser.add_argument("--beta", type=float, metavar="BETA", help="effective: 0 <= beta < 1 (default 1 - 1/N)")
    parser.add_argument(
        "--mu", type=float, metavar="MU", help="log: max(1, ln(mu N / n_c)), mu > 0 (default: ln(N / n_c))"
    )
    parser.add_argument(
        "--median-of",
        type=int,
        nargs="+",
        metavar="C",
        help="median: the classes whose median frequency is the reference",
    )
    parser.add_argument(
        "--level",
        type=float,
        metavar="P",
        help="counts made with --sample: the confidence level of the weights' intervals (default 0.95)",
    )


def _names_option(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--class-names",
        metavar="NAME|FILE",
        help=f"class names: a built-in list ({', '.join(BUILTIN_NAMES)}) or a file, one name per line or "
        f"'id name' lines (default: {default})",
    )


def _storage_option(text: str) -> tuple[str, Any]:
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise argparse.ArgumentTypeError(f"{text!r}: expected KEY=VALUE")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _absent(text: str) -> float | str:
    if text in ("max", "error"):
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, 'max' or 'error', not {text!r}") from None


def _clip(text: str) -> float | tuple[float | None, float | None]:
    """HIGH, or LOW:HIGH with either side left empty; the ranges are Counts.weights' to check."""
    try:
        if ":" not in text:
            return float(text)
        low, high = text.split(":")
        return (float(low) if low else None, float(high) if high else None)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HIGH or LOW:HIGH (e.g. 10 or 0.1:10), not {text!r}") from None


# ---- commands ----------------------------------------------------------------------------------


def _count(args: argparse.Namespace) -> int:
    from ..api.count import count

    class_names = resolve_class_names(args.class_names, "--class-names")
    options = _weight_keywords(args)  # before counting: a flag refused here wastes no count
    if args.level is not None and args.sample is None:
        raise UsageError("--level is the confidence level of an estimate's intervals: it goes with --sample")
    _check_label_map(args)
    if args.coco_no_crowd and not args.coco_instances:
        raise UsageError("--coco-no-crowd goes with --coco-instances")
    coco: list[CocoSet] = [coco_panoptic(annotations, folder) for annotations, folder in args.coco_panoptic]
    coco += [coco_instances(annotations, include_crowd=not args.coco_no_crowd) for annotations in args.coco_instances]
    if class_names is None and coco:
        class_names = _coco_names(coco)
    comm = None
    if args.mpi:
        if args.checkpoint or args.cache or args.sample is not None or args.shard:
            raise UsageError(
                "--mpi shares the inputs among the ranks: it does not take --checkpoint, --cache, --sample or --shard"
            )
        comm = require("mpi4py.MPI", "mpi", "--mpi").COMM_WORLD
    counts = count(
        [*args.paths, *coco],
        num_classes=args.num_classes,
        ignore_index=args.ignore_index,
        threads=args.threads,
        per_image=args.per_image,
        stack_axis=args.stack_axis,
        colormap=args.colormap,
        unknown_color=args.unknown_color,
        allow_lossy=args.allow_lossy,
        on_error=args.on_error,
        progress=not args.quiet and comm is None,
        checkpoint=args.checkpoint,
        checkpoint_every=args.checkpoint_every,
        cache=args.cache,
        sample=None if args.sample is None else int(args.sample) if args.sample >= 1 else args.sample,
        seed=args.seed,
        shard=args.shard,
        comm=comm,
        device=args.device,
        class_names=class_names,
        label_map=args.label_map,
        reduce_zero_label=args.reduce_zero_label,
        storage_options=None if args.storage_options is None else dict(args.storage_options),
        drop_behind=args.drop_behind,
    )
    if comm is not None and comm.Get_rank() != 0:  # rank 0 prints and saves
        return EXIT_OK
    if args.output:  # first: the count is kept whatever happens next (its checkpoint is gone)
        counts.save(args.output)
    weights = counts.weights(args.scheme, **options)
    if args.checkpoint:
        print(
            f"fastweights: {counts.params['resumed']:,} inputs taken from the checkpoint {args.checkpoint}",
            file=sys.stderr,
        )
    if args.cache:
        reuse = counts.params["cache"]
        print(
            f"fastweights: {reuse['reused']:,} inputs taken from the cache {args.cache}, {reuse['counted']:,} counted",
            file=sys.stderr,
        )
    if args.format == "json":
        print(export.counts_json(counts, weights, args.scheme, options))
    elif args.format == "csv":
        print(export.counts_csv(counts, weights), end="")
    else:
        print(format_table(counts, weights, args.scheme))
    if args.format != "table":
        for name, reason in counts.errors:
            print(f"fastweights: skipped {name}: {reason}", file=sys.stderr)
    if args.output:
        print(f"fastweights: counts saved to {args.output}", file=sys.stderr)
    if args.plot:
        from ..api.plot import plot_counts

        plot_counts(
            args.plot, counts, weights, args.scheme, title=_title([*args.paths, *(data.annotations for data in coco)])
        )
        print(f"fastweights: chart saved to {args.plot}", file=sys.stderr)
    return EXIT_OK


def _check_label_map(args: argparse.Namespace) -> None:
    """--label-map checked before counting, its errors naming the flags rather than count()'s keywords."""
    if args.label_map is None and not args.reduce_zero_label:
        return
    valid = args.num_classes if args.num_classes is not None and 1 <= args.num_classes <= MAX_CLASSES else None
    try:
        resolve_label_map(args.label_map, args.reduce_zero_label, tuple(args.ignore_index or ()), valid, MAX_CLASSES)
    except (ValueError, TypeError) as error:
        text = re.sub(r"^label_map(=?)", lambda found: "--label-map" + (" " if found[1] else ""), str(error))
        for keyword, flag in (
            (" num_classes", " --num-classes"),
            (" reduce_zero_label", " --reduce-zero-label"),
            (" ignore_index value", " --ignore-index value"),
        ):
            text = text.replace(keyword, flag)
        raise UsageError(text) from None


def _weights(args: argparse.Namespace) -> int:
    counts = Counts.load(args.counts)
    names = _class_names(counts, args.class_names)
    options = _weight_keywords(args)
    if args.level is not None and not counts.is_estimate:
        raise UsageError(f"--level: {args.counts} holds exact counts, not an estimate with intervals (count --sample)")
    weights = counts.weights(args.scheme, **options)
    output = args.output
    if output and args.format == "torch" and output.endswith(".pt"):
        export.save_torch_weight(output, weights)
    elif output and args.format == "mmseg" and output.endswith((".npy", ".json")):
        export.mmseg_class_weight(weights, output)
    else:
        text = _weights_text(args.format, counts, weights, args.scheme, options, names)
        if output:
            Path(output).write_text(text + "\n", encoding="utf-8")
        else:
            print(text)
    if output:
        print(f"fastweights: weights saved to {output}", file=sys.stderr)
    if args.plot:
        from ..api.plot import plot_counts

        plot_counts(args.plot, counts, weights, args.scheme, names, Path(args.counts).stem)
        print(f"fastweights: chart saved to {args.plot}", file=sys.stderr)
    return EXIT_OK


def _weights_text(
    form: str, counts: Counts, weights: np.ndarray, scheme: str, options: dict[str, Any], names: Sequence[str]
) -> str:
    if form == "json":  # the document of `count --format json`: one schema for both (docs/cli.md)
        return export.counts_json(counts, weights, scheme, options, names)
    if form == "csv":
        return export.weights_csv(weights, names).rstrip("\n")
    if form == "torch":
        return export.torch_text(weights)
    if form == "keras":
        return export.keras_text(weights)
    if form == "mmseg":
        return export.mmseg_text(weights)
    return format_weights(weights, scheme, names)


def _merge(args: argparse.Namespace) -> int:
    total = Counts.load(args.inputs[0])
    for path in args.inputs[1:]:
        part = Counts.load(path)
        try:
            total = total + part
        except ValueError as error:
            raise UsageError(f"{path}: cannot be added to {args.inputs[0]}: {error}") from None
        twice = set(total.sources[: -len(part.sources) or None]) & set(part.sources) if part.sources else set()
        if twice:
            raise UsageError(
                f"{path}: {len(twice)} of its inputs were counted already in the files before it "
                f"(e.g. {sorted(twice)[0]}); merging them would count them twice"
            )
    total.save(args.output)
    print(
        f"fastweights: {len(args.inputs)} counts merged: {total.n_images:,} images, {total.n_pixels:,} pixels, "
        f"{total.num_classes} classes; saved to {args.output}",
        file=sys.stderr,
    )
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from ..api.count import count
    from ..api.demo import CLASS_NAMES, IGNORE_INDEX, write_demo_masks

    with tempfile.TemporaryDirectory(prefix="fastweights-demo-") as folder:
        paths = write_demo_masks(Path(folder))
        print(f"Wrote {len(paths)} synthetic street-scene masks (.npy, 255 = void) to {folder}")
        counts = count(folder, num_classes=len(CLASS_NAMES), ignore_index=IGNORE_INDEX, class_names=CLASS_NAMES)
    print(format_table(counts, counts.weights(args.scheme), args.scheme))
    print()
    print("The same counts give every scheme without counting again:")
    for scheme in sorted(SCHEMES):
        values = ", ".join(f"{w:.3f}" for w in counts.weights(scheme))
        print(f"  {scheme:<10} [{values}]")
    return EXIT_OK


def _info(args: argparse.Namespace) -> int:
    from ..api.config import cuda_devices, optional_packages, show_config

    show_config()
    print("  optional packages:")
    for feature, distribution, version in optional_packages():
        print(f"    {distribution:<12} {version or 'not installed':<14} ({feature})")
    devices = cuda_devices()
    if isinstance(devices, str):
        print(f"  CUDA devices: {devices}")
    else:
        print("  CUDA devices:")
        for device in devices:
            print(f"    {device}")
    print(f"  GPU path (--device cuda): {_gpu_path()}")
    return EXIT_OK


def _gpu_path() -> str:
    """Whether device="cuda" can count here (asks numba-cuda, only when it is installed)."""
    if importlib.util.find_spec("numba_cuda") is None:
        return 'not installed (pip install "fastweights[cuda]")'
    from ..backends.cuda import open_counter, unusable_reason

    reason = unusable_reason()
    return f"usable, on {open_counter().name}" if reason is None else f"not usable: {reason}"


# ---- helpers -----------------------------------------------------------------------------------


def _class_names(counts: Counts, spec: str | None) -> tuple[str, ...]:
    """--class-names, else the names saved with the counts, else (counts saved before names were)
    those of the built-in colormap they were counted with."""
    names = resolve_class_names(spec, "--class-names")
    if names is not None:
        warn_if_mismatched(names, counts.num_classes)
        return names
    colormap = counts.params.get("colormap")
    if counts.class_names or not (isinstance(colormap, str) and colormap in BUILTIN):
        return counts.class_names
    return BUILTIN[colormap][1]


def _weight_keywords(args: argparse.Namespace) -> dict[str, Any]:
    """The keywords of `Counts.weights` that the flags give, checked as far as they can be without
    the counts. A scheme's parameter given with a scheme that does not take it is refused here, by
    its flag (Counts.weights would name the keyword)."""
    keywords: dict[str, Any] = {"normalize": args.normalize, "absent": args.absent, "clip": args.clip}
    if args.level is not None:
        keywords["level"] = args.level
    for name in sorted({name for names in SCHEME_PARAMS.values() for name in names}):
        value = getattr(args, name)
        if value is None:
            continue
        if name not in SCHEME_PARAMS[args.scheme]:
            takers = " or ".join(scheme for scheme, names in SCHEME_PARAMS.items() if name in names)
            raise UsageError(f"--{name.replace('_', '-')} is a parameter of --scheme {takers}, not of {args.scheme}")
        keywords[name] = value
    check_options(args.scheme, **keywords)
    return keywords


def _coco_names(sets: list[CocoSet]) -> tuple[str, ...]:
    """The category names of COCO annotation sets, by category id; the sets must agree."""
    merged: dict[int, str] = {}
    for data in sets:
        for identity, name in data.categories.items():
            if merged.setdefault(identity, name) != name:
                raise UsageError(
                    f"{data.annotations}: category {identity} is {name!r}, and {merged[identity]!r} in other "
                    "COCO annotations counted with it; pass --class-names"
                )
    return tuple(names_by_id(merged))


def _title(paths: Sequence[str]) -> str:
    """The data set's name for a chart: the folder counted, or how many paths were."""
    if len(paths) == 1:
        path = Path(paths[0])
        return f"{path.parent.name}/{path.name}" if path.parent.name else path.name
    return f"{len(paths)} paths"
