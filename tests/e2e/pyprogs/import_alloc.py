"""Imports a module whose top-level code allocates; prints where Python itself says
that was (importlib's frames in between differ by version)."""
import json

import alloc_at_import  # @import

print(json.dumps(alloc_at_import.WHERE))
