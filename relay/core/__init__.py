"""The pure core: records, presets, parsing, deciding, formatting, config.

No I/O library is imported here (tests/test_layers.py checks it in a fresh interpreter).
"""
