"""Imported by import_alloc.py: its top-level code allocates."""
from oracle import here

TABLE, WHERE = bytearray(28_000_000), here()  # @module-alloc
