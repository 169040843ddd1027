"""The one family of errors a user may read: every message meant for the page derives from here.

Pages catch `CNNLabError` and show its message with `st.error`; anything else is a bug, which
the frame's safety net turns into a short apology with a reference while the traceback goes to
the server log.
"""

from __future__ import annotations


class CNNLabError(ValueError):
    """An input or a request the app refuses, with a reason written for the user."""
