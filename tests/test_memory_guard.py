"""Hostile input is refused before it costs memory: each case runs in a child process whose
resident memory a watchdog reads every 20 ms, killing the child the moment it passes a limit.

`run_guarded(code, limit_mb)` is the reusable part: write a case as a short script that does
what the app would do with the input (decode it, and if it is accepted, build and run it), and
assert on what it printed, how it ended and its peak memory.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
POLL_S = 0.02

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="reads resident memory from /proc (Linux)"
)


@dataclass(frozen=True)
class Guarded:
    """How a guarded child ended: its exit code, output, peak resident memory, and whether the
    watchdog killed it for passing the limit."""

    returncode: int
    stdout: str
    stderr: str
    peak_mb: float
    killed: bool


def resident_mb(pid: int) -> float | None:
    """The process's resident memory (VmRSS) in MB, or None once it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024  # the line reads "VmRSS:   123456 kB"
    return None  # a zombie has no VmRSS line


def run_guarded(code: str, limit_mb: int, timeout_s: float = 120) -> Guarded:
    """Run `code` in a fresh Python from the repository root; kill it above `limit_mb`."""
    with tempfile.TemporaryDirectory() as tmp:
        out, err = Path(tmp) / "out.txt", Path(tmp) / "err.txt"
        with out.open("w") as stdout, err.open("w") as stderr:  # files: a full pipe would block
            child = subprocess.Popen(
                [sys.executable, "-c", textwrap.dedent(code)],
                cwd=ROOT,
                stdout=stdout,
                stderr=stderr,
            )
            peak, killed, deadline = 0.0, False, time.monotonic() + timeout_s
            while child.poll() is None:
                rss = resident_mb(child.pid) or 0.0
                peak = max(peak, rss)
                if rss > limit_mb or time.monotonic() > deadline:
                    killed = rss > limit_mb
                    child.kill()
                    break
                time.sleep(POLL_S)
            child.wait()
        return Guarded(child.returncode, out.read_text(), err.read_text(), peak, killed)


def _assert_refused_within(result: Guarded, limit_mb: int, names: list[str]) -> None:
    assert not result.killed, f"passed {limit_mb} MB (peak {result.peak_mb:.0f} MB)"
    assert result.returncode == 0, result.stderr[-2000:]
    for name in names:
        assert f"refused {name}:" in result.stdout, result.stdout


LINK_CASES = """
    import base64, json, zlib

    import torch

    from models.network.build import build_model
    from models.network.spec import SpecError
    from ui.state import decode_spec

    def link(text):
        return base64.urlsafe_b64encode(zlib.compress(text.encode(), 9)).decode().rstrip("=")

    conv = {"type": "conv", "out_channels": 64, "kernel_size": 3, "padding": 1}
    relu = {"type": "relu"}
    cases = {  # what a link may carry: each would take gigabytes if it were built and run
        "5gb-activations": {"input": [3, 2048, 2048], "layers": [conv, relu, conv, relu, conv]},
        "4gb-weights": {"input": [1, 100, 100], "layers": [
            {"type": "flatten"}, {"type": "linear", "out_features": 100_000}]},
    }
    links = {name: link(json.dumps(doc)) for name, doc in cases.items()}
    relus = ", ".join([json.dumps(relu)] * 1_500_000)
    links["25mb-relus"] = link('{"input": [3, 8, 8], "layers": [' + relus + "]}")
    for name, text in links.items():
        try:
            spec = decode_spec(text)
        except SpecError as err:
            print(f"refused {name}: {err}", flush=True)
            continue
        print(f"accepted {name}", flush=True)
        with torch.no_grad():  # what a page does with an accepted network
            build_model(spec)(torch.zeros(1, *spec.input_shape))
"""


def test_hostile_links_are_refused_while_the_process_stays_under_1_5_gb():
    result = run_guarded(LINK_CASES, limit_mb=1536)
    _assert_refused_within(result, 1536, ["5gb-activations", "4gb-weights", "25mb-relus"])
    assert "needs 5 GB of memory for one image" in result.stdout
    assert "has 1 billion parameters" in result.stdout


JSON_CASE = """
    from models.network.spec import NetworkSpec, SpecError

    relus = ", ".join(['{"type": "relu"}'] * 1_500_000)
    text = '{"input": [3, 8, 8], "layers": [' + relus + "]}"
    try:
        NetworkSpec.from_json(text)
        print("accepted 25mb-json")
    except SpecError as err:
        print(f"refused 25mb-json: {err}")
"""


def test_a_25_mb_json_of_relus_is_refused_without_parsing_it():
    # models.network.spec imports no torch: the child holds ~15 MB and its 25 MB text. Parsing
    # that text into 1.5 million dicts, as validation did before the length check, took about
    # 0.5 GB.
    result = run_guarded(JSON_CASE, limit_mb=200)
    _assert_refused_within(result, 200, ["25mb-json"])
    assert "characters long" in result.stdout


UPLOAD_CASES = """
    import io, struct, zipfile, zlib

    from PIL import Image

    from models.training.checkpoint import CheckpointError, from_bytes
    from models.data.datasets import DataError
    from models.data.zipdata import load_zip

    def raw_zip(records):  # (name, method, payload, size[, packed size]) declared; CRCs 0
        out, central = io.BytesIO(), []
        for name, method, payload, size, *packed in records:
            fields = (method, 0, 0, 0, packed[0] if packed else len(payload), size, len(name), 0)
            central.append(struct.pack(
                "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, *fields, 0, 0, 0, 0, out.tell()))
            central[-1] += name.encode()
            out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, *fields) + name.encode())
            out.write(payload)
        start, n = out.tell(), len(records)
        out.write(b"".join(central))
        out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, out.tell() - start, start, 0))
        return out.getvalue()

    def zeros_deflated(mb):  # 1 MB of zeros deflated once, its fully flushed block repeated
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        block = packer.compress(bytes(2**20)) + packer.flush(zlib.Z_FULL_FLUSH)
        return block * mb + packer.flush()

    def checkpoint(mb):
        version = [("archive/version", 0, b"3", 1), ("archive/byteorder", 0, b"little", 6)]
        return raw_zip([("archive/data.pkl", 8, zeros_deflated(mb), mb * 2**20), *version])

    stored = io.BytesIO()  # the issue's case: a deflated data.pkl of 50 MB of zeros
    with zipfile.ZipFile(stored, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", bytes(50 * 2**20))
    cases = {
        "50mb-pickle": stored.getvalue(),
        "2.5gb-pickle": checkpoint(2560),  # 2.6 MB on the wire; torch.load inflated all of it
        "3gb-declared": raw_zip([(f"archive/data/{i}", 0, b"", 2**30, 2**30) for i in range(3)]),
    }
    for name, data in cases.items():
        try:
            from_bytes(data)
            print(f"accepted {name}", flush=True)
        except CheckpointError as err:
            print(f"refused {name}: {err}", flush=True)

    png = io.BytesIO()
    Image.new("1", (6000, 6000)).save(png, "PNG")  # 36 million pixels in a few KB
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_STORED) as archive:
        for i in range(600):
            archive.writestr(f"c{i % 2}/{i}.png", png.getvalue())
    try:
        load_zip(bomb.getvalue())
        print("accepted pixel-bomb-zip", flush=True)
    except DataError as err:
        print(f"refused pixel-bomb-zip: {err}", flush=True)
"""


def test_inflating_checkpoints_and_a_pixel_bomb_zip_are_refused_under_1_5_gb():
    # Without the checks the 2.5 GB case alone passed 1.5 GB inside torch.load, and the zip of
    # 600 PNGs decoded one 36-megapixel image after another for minutes.
    result = run_guarded(UPLOAD_CASES, limit_mb=1536)
    names = ["50mb-pickle", "2.5gb-pickle", "3gb-declared", "pixel-bomb-zip"]
    _assert_refused_within(result, 1536, names)
    assert result.stdout.count("is compressed or encrypted") == 2  # refused before torch.load
    assert "holds 3,072 MB of weights; at most 200 MB" in result.stdout
    assert "more than 200 million pixels" in result.stdout
