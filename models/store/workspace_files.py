"""A workspace's files on disk and in a download: checked names, atomic writes, the zip format.

    write_atomic(path, data)              # temp file, fsync, rename, fsync the folder
    pack(fields, blobs) -> bytes          # the "Download my workspace" file
    unpack(data, max_bytes) -> Contents   # an uploaded file, checked before anything is inflated

A save that is killed at any moment leaves either the old file or the new one, never a mix: the
data goes to a temporary file beside the target (named with a "~", which no item name may hold),
and only a complete, flushed file is renamed over it.
"""

from __future__ import annotations

import io
import json
import os
import re
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from models.errors import CNNLabError

WORKSPACE_ID = re.compile(r"[A-Za-z0-9_-]{22,64}")  # ids are secrets.token_urlsafe(24)
ITEM_NAME = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
MAX_NAME = 120  # characters in a field's or blob's name
TEMP_PREFIX = "~saving-"  # "~" is never in an item's name, so a temp file never shadows one
CHUNK = 1 << 20  # bytes written between checks of the test hook
FORMAT = "cnn-lab-workspace"  # the tag in workspace.json
FORMAT_VERSION = 1
MANIFEST = "workspace.json"
BLOBS = "blobs/"
MAX_ENTRIES = 5_000  # files in an uploaded workspace file
MAX_MANIFEST = 64 * 2**20  # bytes of workspace.json (fields are capped again one by one)

# A test sets this to pause a save ("partial": half written; "complete": before the rename),
# so it can kill the process there and check that the last good file survives.
SAVE_HOOK: Callable[[str, Path], None] | None = None


class WorkspaceError(CNNLabError):
    """A workspace request that cannot be done: a bad id or name, an unreadable workspace file."""


def checked_id(ws: str) -> str:
    """`ws` when it has the shape of a workspace id; never used as a path before this check."""
    if not isinstance(ws, str) or not WORKSPACE_ID.fullmatch(ws):
        raise WorkspaceError("this workspace id is not valid; start a fresh workspace")
    return ws


def checked_name(name: str) -> str:
    """`name` when it is a safe item name: [A-Za-z0-9_.-] segments joined by "/", no "." or ".."."""
    if (
        not isinstance(name, str)
        or len(name) > MAX_NAME
        or not ITEM_NAME.fullmatch(name)
        or any(part in (".", "..") for part in name.split("/"))
    ):
        shown = repr(name)[:60] if isinstance(name, str) else type(name).__name__
        raise WorkspaceError(
            f"the name {shown} is not allowed: use letters, digits, '_', '-', '.' and '/', "
            f"at most {MAX_NAME} characters, and no '..'"
        )
    return name


def _fsync_folder(folder: Path) -> None:
    """Make a rename or a new entry in `folder` survive a power cut (a no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _pause(stage: str, path: Path) -> None:
    if SAVE_HOOK is not None:
        SAVE_HOOK(stage, path)


def write_atomic(path: Path, data: bytes, top: Path) -> None:
    """Replace `path` by `data` so a crash leaves the old or the new file; folders up to `top`
    (the workspace's own folder) are made and synced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / f"{TEMP_PREFIX}{os.urandom(6).hex()}"
    try:
        with open(temp, "xb") as f:
            for start in range(0, len(data), CHUNK):
                f.write(data[start : start + CHUNK])
                if start == 0:
                    f.flush()
                    _pause("partial", temp)
            f.flush()
            os.fsync(f.fileno())
        _pause("complete", temp)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    for folder in (path.parent, *path.parent.parents):  # the new name, and any new folders
        _fsync_folder(folder)
        if folder == top.parent:
            break


def remove_stale_temps(root: Path, older_than_s: float = 3600.0) -> int:
    """Delete temp files that killed saves left under `root`; how many went."""
    removed, cutoff = 0, time.time() - older_than_s
    for temp in root.rglob(f"{TEMP_PREFIX}*"):
        try:
            if temp.is_file() and temp.stat().st_mtime < cutoff:
                temp.unlink()
                removed += 1
        except OSError:
            continue
    return removed


@dataclass(frozen=True)
class Contents:
    """What a workspace file holds: small fields by name and blobs by name."""

    fields: dict[str, str]
    blobs: dict[str, bytes]


def pack(contents: Contents) -> bytes:
    """One zip: workspace.json (format tag, fields) and blobs/<name> for each blob."""
    manifest = {"format": FORMAT, "version": FORMAT_VERSION, "fields": contents.fields}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False))
        for name, data in contents.blobs.items():
            zf.writestr(BLOBS + name, data)
    return buffer.getvalue()


def _megabytes(n: float) -> str:
    return f"{n / 2**20:.1f}".removesuffix(".0") + " MB"


NOT_A_WORKSPACE = "this is not a CNN Lab workspace file (it is made by 'Download my workspace')"


def _entries(zf: zipfile.ZipFile, max_bytes: int) -> list[zipfile.ZipInfo]:
    """The file entries, checked from the zip's directory alone: names, count and sizes."""
    infos = [i for i in zf.infolist() if not i.is_dir()]
    if len(infos) > MAX_ENTRIES:
        raise WorkspaceError(f"this workspace file holds {len(infos)} files; at most {MAX_ENTRIES}")
    seen: set[str] = set()
    for info in infos:
        if info.filename != MANIFEST:
            if not info.filename.startswith(BLOBS):
                raise WorkspaceError(f"{NOT_A_WORKSPACE}: it holds {info.filename[:60]!r}")
            checked_name(info.filename.removeprefix(BLOBS))
        if info.filename in seen:
            raise WorkspaceError(f"this workspace file holds {info.filename[:60]!r} twice")
        seen.add(info.filename)
    if MANIFEST not in seen:
        raise WorkspaceError(NOT_A_WORKSPACE)
    total = sum(i.file_size for i in infos if i.filename != MANIFEST)
    manifest = next(i for i in infos if i.filename == MANIFEST).file_size
    if total > max_bytes or manifest > min(MAX_MANIFEST, max_bytes + 2**20):
        raise WorkspaceError(
            f"this workspace file unpacks to {_megabytes(total + manifest)}, more than the "
            f"{_megabytes(max_bytes)} a workspace may hold"
        )
    return infos


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    with zf.open(info) as f:
        data = f.read(info.file_size + 1)  # the directory's size, never more
    if len(data) != info.file_size:
        raise WorkspaceError("this workspace file is damaged (a file's size does not match)")
    return data


def _fields(raw: bytes) -> dict[str, str]:
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WorkspaceError(NOT_A_WORKSPACE) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise WorkspaceError(NOT_A_WORKSPACE)
    if manifest.get("version") != FORMAT_VERSION:
        raise WorkspaceError("this workspace file was made by another version of CNN Lab")
    fields = manifest.get("fields", {})
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        raise WorkspaceError("this workspace file is damaged (its fields are not texts)")
    return {checked_name(name): value for name, value in fields.items()}


def unpack(data: bytes, max_bytes: int) -> Contents:
    """The fields and blobs of an untrusted workspace file, refused with a plain message when
    it is not one, names a path outside the workspace, or would hold more than `max_bytes`."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = _entries(zf, max_bytes)
            files = {i.filename: _read(zf, i) for i in infos}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError):
        raise WorkspaceError(NOT_A_WORKSPACE + ", or it is damaged") from None
    fields = _fields(files.pop(MANIFEST))
    return Contents(fields, {name.removeprefix(BLOBS): blob for name, blob in files.items()})
