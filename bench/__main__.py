"""`python -m bench [--quick] [--only p1,p3]`: run the scenarios, write bench/results.json, print the table."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.config import FULL, QUICK, BenchConfig
from bench.failover import run_failover
from bench.fairness import run_fairness
from bench.history import run_history
from bench.latency import run_latency
from bench.p1_push import run_p1
from bench.p2_recorder import run_p2
from bench.p3_sync import run_p3
from bench.p3r_sync import run_p3r
from bench.p4_capped import run_p4_capped
from bench.p4_scale import run_p4
from bench.plot import write_plot
from bench.procstats import summarise
from bench.rate_budget import run_rate_budget
from bench.report import machine, say, table, write_results
from bench.scale import run_scale
from bench.step_loop import run_step_loop
from bench.tradedesk_calls import run_tradedesk_calls
from bench.world import World, running_world
from shared.logging import configure_logging

SCENARIOS = (
    "p1",
    "step",
    "p3",
    "p3r",
    "p2",
    "p4",
    "p4c",
    "rate",
    "ttd",
    "latency",
    "fairness",
    "scale",
    "failover",
    "history",
)


async def _scenarios(world: World, config: BenchConfig, only: set[str], results: dict[str, Any]) -> list[str]:
    """Run the chosen scenarios in order; returns the names of those that failed to complete."""
    memory: dict[str, dict[str, float]] = {}

    async def p1() -> None:
        results["p1_push"], memory["p1"] = await run_p1(world, config)

    async def step() -> None:
        results["step_loop"] = await run_step_loop(world, config)

    async def p3() -> None:
        results["p3_sync"], memory["p3"] = await run_p3(world, config)

    async def p3r() -> None:
        # Issue 17 names the figure p3_remote; the scenario's own key is p3r_sync.
        results["p3r_sync"] = results["p3_remote"] = await run_p3r(world, config)

    async def p2() -> None:
        results["p2_recorder"] = await run_p2(world, config)

    async def p4() -> None:
        results["p4_scale"] = await run_p4(world, config)

    async def p4c() -> None:
        results["p4_capped"] = await run_p4_capped(world, config)

    async def rate() -> None:
        results["rate_budget"] = await run_rate_budget(world, config)

    async def ttd() -> None:
        results["tradedesk_calls"] = await run_tradedesk_calls(world, config)

    async def latency() -> None:
        results["latency_ms"] = await run_latency(world, config)

    async def fairness() -> None:
        results["fairness"] = await run_fairness(world, config)

    async def scale() -> None:
        figures = await run_scale(world, config)
        results["scale"], results["import"], results["memory"] = (
            figures["scale"],
            figures["import"],
            figures["memory"],
        )

    async def failover() -> None:
        results["failover"] = await run_failover(world, config)

    async def history() -> None:
        # Last: its millions of rows would slow the other scenarios' writes.
        results["history"] = await run_history(world, config)

    steps: dict[str, Callable[[], Awaitable[None]]] = {
        "p1": p1,
        "step": step,
        "p3": p3,
        "p3r": p3r,
        "p2": p2,
        "p4": p4,
        "p4c": p4c,
        "rate": rate,
        "ttd": ttd,
        "latency": latency,
        "fairness": fairness,
        "scale": scale,
        "failover": failover,
        "history": history,
    }
    failed: list[str] = []
    for name in SCENARIOS:
        if name not in only:
            continue
        say(f"bench: {name} ...")
        started = time.monotonic()
        try:
            await steps[name]()
        except Exception:
            failed.append(name)
            say(f"bench: {name} FAILED\n{traceback.format_exc()}")
        say(f"bench: {name} took {time.monotonic() - started:.0f}s")
    summarise(results, memory)
    return failed


async def main(config: BenchConfig, only: set[str], output: Path) -> int:
    """Run the bench; exit status 1 when a scenario did not complete."""
    results: dict[str, Any] = {"quick": config.quick, "machine": machine()}
    started = time.monotonic()
    log_dir = Path(tempfile.mkdtemp(prefix="activator-bench-"))
    say(f"bench: services' logs in {log_dir}")
    async with running_world(log_dir) as world:
        failed = await _scenarios(world, config, only, results)
    results["duration_s"] = round(time.monotonic() - started, 1)
    results["failed_scenarios"] = failed
    write_results(output, results)
    print(table(results))
    if write_plot(output.with_suffix(".png"), results):
        say(f"bench: drew {output.with_suffix('.png')}")
    say(f"bench: wrote {output} in {results['duration_s']:.0f}s")
    if failed:
        say(f"bench: scenarios that did not complete: {', '.join(failed)}")
        return 1
    return 0


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer and smaller repetitions (< 3 minutes)")
    parser.add_argument(
        "--only", default=",".join(SCENARIOS), help=f"comma-separated subset of {','.join(SCENARIOS)}"
    )
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results.json")
    args = parser.parse_args()
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = only - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    configure_logging("WARNING", "console")
    sys.exit(asyncio.run(main(QUICK if args.quick else FULL, only, args.output)))


cli()
