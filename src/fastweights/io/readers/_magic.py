"""A file's format: by its extension, checked against the bytes it starts with."""

from __future__ import annotations

import os

from ...base.errors import InputError

__all__ = ["check_magic", "extension_of", "magic_choices"]


def extension_of(path: str) -> str:
    """The lower-case extension, as os.path.splitext gives it (".nii.gz" whole); called for every
    file a folder holds, so without splitext's generality."""
    lower = path.lower()
    if lower.endswith(".nii.gz"):
        return ".nii.gz"
    name = lower[lower.rfind(os.sep) + 1 :]
    dot = name.rfind(".")
    # No extension when the only dots lead the name (".hidden"), as for splitext.
    return name[dot:] if dot > 0 and name[:dot].strip(".") else ""


def check_magic(path: str, start: bytes, magic: bytes | tuple[bytes, ...]) -> None:
    """Refuses a file whose first bytes are not its format's, whatever its extension says."""
    if not start:
        raise InputError(f"{path}: 0-byte file")
    if not any(start.startswith(m) for m in magic_choices(magic)):
        shown = " or ".join(repr(m) for m in magic_choices(magic))
        raise InputError(f"{path}: not a {extension_of(path)} file (it does not start with {shown})")


def magic_choices(magic: bytes | tuple[bytes, ...]) -> tuple[bytes, ...]:
    return magic if isinstance(magic, tuple) else (magic,)
