"""Streamlit helpers shared by every page: the frame, the pickers, session state."""

from ui.frame import frame

__all__ = ["frame"]
