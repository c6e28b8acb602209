"""Under `filrec run`, filrec.recording() nests into the run's recording: a region
of its trace, not a second trace. Holds 50,000,000 bytes inside (line INSIDE)."""
import json

import filrec

with filrec.recording() as r:
    x = bytearray(50_000_000)  # INSIDE
    del x
print(json.dumps({"nested": r.nested, "path": r.path, "peak": r.peak}))
