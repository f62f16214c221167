"""asyncio's figures for the evloop report: the same workloads as the Rust runtimes.

Run by `evloop-bench report`; prints one JSON object. Usage: asyncio_peers.py OPS
"""
import asyncio
import concurrent.futures
import json
import sys
import time


async def spawn_batches(n):
    """create_task of an empty coroutine, 1000 at a time, awaited: ns per task."""
    async def empty():
        pass

    start = time.perf_counter_ns()
    left = n
    while left > 0:
        batch = min(1000, left)
        left -= batch
        tasks = [asyncio.create_task(empty()) for _ in range(batch)]
        for t in tasks:
            await t
    return (time.perf_counter_ns() - start) / n


async def yield_loop(n):
    """await asyncio.sleep(0) in a loop: ns per yield."""
    start = time.perf_counter_ns()
    for _ in range(n):
        await asyncio.sleep(0)
    return (time.perf_counter_ns() - start) / n


async def executor_round_trips(executor, n):
    """run_in_executor(executor, int) awaited one at a time: ns per round trip."""
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(executor, int)  # start a worker before timing
    start = time.perf_counter_ns()
    for _ in range(n):
        await loop.run_in_executor(executor, int)
    return (time.perf_counter_ns() - start) / n


async def main(ops):
    out = {
        "spawn_ns": await spawn_batches(ops),
        "yield_ns": await yield_loop(ops),
    }
    with concurrent.futures.ThreadPoolExecutor() as pool:
        out["thread_pool_ns"] = await executor_round_trips(pool, max(ops // 10, 10))
    with concurrent.futures.ProcessPoolExecutor(max_workers=1) as pool:
        out["process_pool_ns"] = await executor_round_trips(pool, max(ops // 50, 10))
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(int(sys.argv[1])))))
