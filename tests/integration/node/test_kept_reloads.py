"""What a node keeps of checked HLS plays stays in proportion to the plays alive.

A real node in this process (its data plane on a real socket, the test pattern played by
ffmpeg), asked by a real HTTP client.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from palinsesto.config import load_settings
from palinsesto.node import token_delivery
from palinsesto.node.remote import RemoteNode
from palinsesto.protocol.messages import Assignment, NodeState, PanelReply
from palinsesto.protocol.play_tokens import PlayKind, PlayTokens, SigningKey
from support.node_panel import pattern_channel

KEY = SigningKey(1, b"s" * 32)
CHANNEL = pattern_channel(7)


def reply(*end_sessions: int) -> PanelReply:
    return PanelReply(
        4, NodeState.online, 1.0, 6.0, (KEY,), (Assignment(CHANNEL, always_on=True),),
        end_sessions=end_sessions,
    )  # fmt: skip


async def test_kept_reloads_of_ended_sessions_are_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(token_delivery, "RELOADS_SWEPT_FROM", 4)
    node = RemoteNode(
        load_settings(
            {
                "PALINSESTO_DATA_DIR": str(tmp_path),
                "PALINSESTO_LIVE_LISTEN": "127.0.0.1:0",
                "PALINSESTO_RTMP_LISTEN": "off",
            }
        )
    )
    await node.start()
    try:
        await node.apply(reply())
        tokens = PlayTokens([KEY])

        def token(session_id: int) -> str:
            return tokens.issue(
                tenant_id=1, line_id=11, channel_id=7, session_id=session_id,
                kind=PlayKind.hls, expires=2_000_000_000, client_ip="127.0.0.1",
            )  # fmt: skip

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.port}", timeout=30) as c:

            async def play(session_id: int) -> None:
                answer = await c.get(f"/play/{token(session_id)}.m3u8")
                assert answer.status_code == 200, answer.text

            for session_id in range(1, 5):
                await play(session_id)
            assert node.delivery.reloads_kept == 4
            await play(5)  # the fifth: all four alive, all kept
            assert node.delivery.reloads_kept == 5
            await node.apply(reply(1, 2, 3, 4, 5))  # the panel ends them
            for session_id in range(6, 9):
                await play(session_id)
            assert node.delivery.reloads_kept == 8  # twice the alive ones when last swept
            await play(9)  # the ninth finds the ended five and drops them
            assert node.delivery.reloads_kept == 4
            await play(6)
            assert node.delivery.reloads_kept == 4
            ended = await c.get(f"/play/{token(2)}.m3u8")
            assert ended.status_code == 403 and ended.text.startswith("session ended")
    finally:
        await node.stop()
