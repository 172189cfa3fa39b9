"""codeloop.codegen: pack-code format, public ids, GS1 helpers and print-package writers.

Pure Python: no Flask, no database, no network.
"""

__version__ = "1.0.0"
