"""The check pass, one module per concern (see `program.py` for what it hands on)."""
