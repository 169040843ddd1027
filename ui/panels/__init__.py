"""Per-page panels: ui/panels/<page>.py serves pages/<page>.py."""
