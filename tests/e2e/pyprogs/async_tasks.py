"""Allocations in an awaited coroutine under asyncio.run: one before the coroutine
first suspends, one after its await resumes. Prints where Python itself says they
were (the event loop's frames between the script's and the coroutines' differ by
version). The buffers are kept in a list, not returned: on 3.11 and 3.12, asyncio.run
ends by repr()ing the main task, result included, in full (a bytearray's repr is four
times its size) before reprlib shortens it."""
import asyncio
import json

from oracle import here

BEFORE = 20_000_000
AFTER = 30_000_000
kept = []


async def fetch(size):
    early, early_at = bytearray(BEFORE), here()  # @before-await
    await asyncio.sleep(0)
    late, late_at = bytearray(size), here()  # @after-await
    kept.extend([early, late])
    return early_at, late_at


async def main():
    return await fetch(AFTER)  # @await-fetch


early_at, late_at = asyncio.run(main())  # @run
print(json.dumps({"before": early_at, "after": late_at}))
