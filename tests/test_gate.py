"""PollGate: a poll waiting for its busy host holds no slot, so other hosts' polls go first."""

from __future__ import annotations

import asyncio

from relay.pipeline.gate import PollGate


async def test_a_poll_of_a_busy_host_leaves_the_slot_to_another_host() -> None:
    gate = PollGate(concurrency=1)
    order: list[str] = []
    release = asyncio.Event()

    async def poll(name: str, url: str, hold: bool = False) -> None:
        async with gate.admit(url):
            order.append(name)
            if hold:
                await release.wait()

    first = asyncio.create_task(poll("a1", "http://a.example/board1", hold=True))
    await asyncio.sleep(0)
    same_host = asyncio.create_task(poll("a2", "http://A.example/board2"))  # came first
    await asyncio.sleep(0)
    other_host = asyncio.create_task(poll("b1", "http://b.example/board"))
    await asyncio.sleep(0.01)
    assert order == ["a1"]
    release.set()
    await asyncio.gather(first, same_host, other_host)
    assert order == ["a1", "b1", "a2"]


async def test_polls_of_different_hosts_run_together_up_to_the_slots() -> None:
    gate = PollGate(concurrency=2)
    inside = 0
    most = 0

    async def poll(url: str) -> None:
        nonlocal inside, most
        async with gate.admit(url):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(poll(f"http://h{i}.example/") for i in range(5)))
    assert most == 2
