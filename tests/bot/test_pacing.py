import asyncio
import time

from bot.slack.pacing import ChannelPacer


async def _send(pacer: ChannelPacer, channel: str, log: list, took: float) -> None:
    async with pacer.turn(channel):
        log.append(("start", channel, time.monotonic()))
        await asyncio.sleep(took)
        log.append(("end", channel, time.monotonic()))


async def test_the_interval_counts_from_when_the_previous_request_finished() -> None:
    pacer = ChannelPacer(0.05)
    log: list = []
    # The first request is slow to go out; the second must still start a full interval after it ends.
    await asyncio.gather(_send(pacer, "C1", log, 0.1), _send(pacer, "C1", log, 0.0), _send(pacer, "C1", log, 0.0))
    events = [kind for kind, _, _ in log]
    assert events == ["start", "end"] * 3  # one request at a time per channel
    ends = [t for kind, _, t in log if kind == "end"]
    starts = [t for kind, _, t in log if kind == "start"]
    for ended, next_start in zip(ends, starts[1:], strict=False):
        assert next_start - ended >= 0.05


async def test_channels_do_not_wait_for_each_other() -> None:
    pacer = ChannelPacer(10.0)
    log: list = []
    await _send(pacer, "C1", log, 0.0)
    # A ten-second interval on C1 must not hold up C2: this finishes at once or times out.
    await asyncio.wait_for(_send(pacer, "C2", log, 0.0), timeout=5)
    assert [channel for kind, channel, _ in log if kind == "start"] == ["C1", "C2"]


async def test_a_failed_request_still_spaces_the_next_one() -> None:
    pacer = ChannelPacer(0.05)
    failed_at = 0.0
    try:
        async with pacer.turn("C1"):
            failed_at = time.monotonic()
            raise RuntimeError("slack down")
    except RuntimeError:
        pass
    async with pacer.turn("C1"):
        assert time.monotonic() - failed_at >= 0.05


async def test_no_interval_means_no_waiting_or_locking() -> None:
    pacer = ChannelPacer(0)
    async with pacer.turn("C1"):  # noqa: SIM117  the nesting is the point: re-entering inside a turn
        # Re-entering the same channel inside a turn would deadlock if a lock were taken.
        async with pacer.turn("C1"):
            pass
