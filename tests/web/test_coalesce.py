from __future__ import annotations

import asyncio

from worker.web.asgi import Message
from worker.web.coalesce import LIMIT, CoalescingSend


class Recorder:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, message: Message) -> None:
        await self.gate.wait()
        self.messages.append(message)

    @property
    def bodies(self) -> list[bytes]:
        return [m["body"] for m in self.messages if m["type"] == "http.response.body"]


START: Message = {"type": "http.response.start", "status": 200, "headers": []}


def body(data: bytes, more: bool = True) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": more}


async def test_first_event_goes_out_at_once_and_a_burst_in_one_write() -> None:
    sink = Recorder()
    send = CoalescingSend(sink)
    await send(START)
    await send(body(b"e0"))
    assert sink.bodies == [b"e0"]  # time to first event is not delayed
    for i in range(1, 6):  # produced without yielding to the loop, like one upstream read
        await send(body(b"e%d" % i))
    assert sink.bodies == [b"e0"]
    await asyncio.sleep(0)  # the producer waits for the next upstream read: the burst leaves
    await asyncio.sleep(0)
    assert sink.bodies == [b"e0", b"e1e2e3e4e5"]
    send.discard()


async def test_the_last_message_flushes_in_order() -> None:
    sink = Recorder()
    send = CoalescingSend(sink)
    await send(START)
    for i in range(4):
        await send(body(b"e%d" % i))
    await send(body(b"end", more=False))
    assert b"".join(sink.bodies) == b"e0e1e2e3end"
    assert sink.messages[-1]["more_body"] is False
    assert sink.messages[0] is START
    send.discard()


async def test_the_buffer_is_bounded() -> None:
    sink = Recorder()
    send = CoalescingSend(sink)
    await send(START)
    await send(body(b"first"))
    chunk = b"x" * 1024
    for _ in range(LIMIT // 1024 * 3):
        await send(body(chunk))
    assert len(sink.bodies) >= 3  # flushed by size, without the loop getting a turn
    assert all(len(b) <= LIMIT for b in sink.bodies)
    send.discard()


async def test_a_full_socket_holds_the_producer_back() -> None:
    sink = Recorder()
    send = CoalescingSend(sink)
    await send(START)
    await send(body(b"first"))
    sink.gate.clear()  # the client stops reading
    await send(body(b"a"))
    await asyncio.sleep(0)  # the flush starts and blocks in `send`
    producer = asyncio.create_task(send(body(b"b")))
    await asyncio.sleep(0.05)
    assert not producer.done()  # waits, as a direct `send` would
    sink.gate.set()
    await asyncio.wait_for(producer, 1)
    await send(body(b"", more=False))
    assert b"".join(sink.bodies) == b"firstab"
    send.discard()
