"""One student after another: the CPU of a new session's first open of each page, in-process.

    python -m benchmarks.page_cost [page ...]     # file stems of pages/; default: every page

For each page, a first session opens it (imports, shipped models, the class-wide results), then
three new sessions open it one after another with the class-wide store of `ui.results` full:
what the second to the thirtieth student of a class cost the server. The baseline, in the same
process, is three new sessions that each find the store emptied first, as every student did
before pages made their results once for the class. Each session starts on the home page like
a student (not measured) and then switches to the page (measured: the process's CPU seconds,
the least of three). It runs Streamlit's AppTest, so it leaves out the websocket and the
browser: `benchmarks.classroom_load` measures those, for the main pages, with real tabs.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _session(page: str) -> float:
    """CPU seconds of a new session's switch from home to `page`."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    start = time.process_time()
    at.switch_page(f"pages/{page}.py").run()
    spent = time.process_time() - start
    if at.exception:
        raise RuntimeError(f"{page}: {at.exception[0].value}")
    return spent


def measure(page: str, repeats: int = 3) -> tuple[float, float]:
    """(CPU s with the class's results kept, CPU s with each session computing its own)."""
    from ui import results

    _session(page)  # the first student: imports, models, the class-wide results
    shared = min(_session(page) for _ in range(repeats))
    alone = []
    for _ in range(repeats):
        results.clear_shared()
        alone.append(_session(page))
    return shared, min(alone)


def main() -> None:
    os.environ.setdefault("CNNLAB_DATA_DIR", tempfile.mkdtemp(prefix="cnnlab-bench-"))
    sys.stdout.reconfigure(line_buffering=True)
    pages = sys.argv[1:] or sorted(p.stem for p in (ROOT / "pages").glob("*.py"))
    print(f"{'page':<18} {'shared s':>9} {'own s':>9} {'ratio':>7}")
    for page in pages:
        shared, alone = measure(page)
        print(f"{page:<18} {shared:>9.3f} {alone:>9.3f} {shared / alone:>6.2f}x")


if __name__ == "__main__":
    main()
