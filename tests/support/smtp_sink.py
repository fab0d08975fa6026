"""A tiny SMTP server on 127.0.0.1 port 0 that keeps what it is sent, for mail tests.

It speaks the few commands a client needs to deliver (EHLO/HELO, MAIL, RCPT, DATA, RSET,
NOOP, QUIT) and offers no extensions, so the client sends in plain text. Runs its own
asyncio loop in a thread; :meth:`SmtpSink.wait_for` blocks until a message arrives.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage


@dataclass
class SmtpSink:
    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def wait_for(self, count: int = 1, timeout: float = 20.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"no mail arrived within {timeout} s"
                self._arrived.wait(left)
            return list(self.messages)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def reply(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        await reply("220 sink ESMTP")
        sender, recipients = "", []
        while line := await reader.readline():
            verb = line[:4].decode("ascii", "replace").upper()
            if verb in ("EHLO", "HELO"):
                await reply("250 sink")
            elif verb == "MAIL":
                sender, recipients = line.decode().split(":", 1)[1].strip(), []
                await reply("250 OK")
            elif verb == "RCPT":
                recipients.append(line.decode().split(":", 1)[1].strip())
                await reply("250 OK")
            elif verb == "DATA":
                await reply("354 end with <CRLF>.<CRLF>")
                data = bytearray()
                while (chunk := await reader.readline()) not in (b".\r\n", b""):
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                message = email.message_from_bytes(bytes(data), policy=email.policy.default)
                with self._arrived:
                    self.envelopes.append((sender, recipients))
                    self.messages.append(message)  # type: ignore[arg-type]
                    self._arrived.notify_all()
                await reply("250 queued")
            elif verb == "QUIT":
                await reply("221 bye")
                break
            else:  # RSET, NOOP and anything else
                await reply("250 OK")
        writer.close()


@contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: list[asyncio.Server] = []

    async def start() -> None:
        server = await asyncio.start_server(sink._session, "127.0.0.1", 0)
        sink.port = server.sockets[0].getsockname()[1]
        holder.append(server)
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop)
    assert ready.wait(10), "SMTP sink did not start"
    try:
        yield sink
    finally:
        holder[0].close()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
