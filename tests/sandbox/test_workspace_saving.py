"""The sandbox workspace kept between demo runs: saved whole, loaded whole, or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.models import ChannelSpec
from sandbox.workspace import Workspace, WorkspaceConfig


def test_a_saved_workspace_comes_back_with_its_channels_messages_and_counters(tmp_path: Path) -> None:
    first = Workspace()
    channel_id = first.add_channel(ChannelSpec("inc-20261202-1-latency"))
    last_ts = first.next_ts()
    path = tmp_path / "workspace.pickle"
    first.save(path)

    # A clock far in the past: only the restored counter keeps new timestamps after the old ones.
    second = Workspace(WorkspaceConfig(clock=lambda: 1.0))
    assert second.load(path)
    assert second.lookup(channel_id) is not None and second.by_name("inc-20261202-1-latency") is not None
    assert float(second.next_ts()) > float(last_ts)
    assert second.new_id("C0", second.channels) != channel_id


@pytest.mark.parametrize("content", [b"", b"not a pickle", b"\x80\x04K\x01."])
def test_a_missing_or_broken_file_leaves_the_workspace_as_it_was(tmp_path: Path, content: bytes) -> None:
    workspace = Workspace()
    names = {c.name for c in workspace.channels.values()}
    path = tmp_path / "workspace.pickle"
    assert not workspace.load(path)  # missing
    path.write_bytes(content)
    assert not workspace.load(path)
    assert {c.name for c in workspace.channels.values()} == names
