"""The classroom: a class board that a teacher opens and students publish their runs to."""
