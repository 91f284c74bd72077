"""The AudioSocket wire format: hypothesis round trips through a real stream reader."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voice_bot.audiosocket import MAX_PAYLOAD, encode, read_message


async def _read_all(data: bytes) -> list[tuple[int, bytes]]:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    out: list[tuple[int, bytes]] = []
    while True:
        try:
            msg = await read_message(reader)
        except EOFError:
            return out
        out.append((msg.kind, msg.payload))


@given(st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=MAX_PAYLOAD)), max_size=8))
def test_messages_round_trip(messages: list[tuple[int, bytes]]) -> None:
    data = b"".join(encode(k, p) for k, p in messages)
    assert asyncio.run(_read_all(data)) == messages


@given(st.binary(max_size=40))
def test_a_truncated_stream_ends_cleanly(tail: bytes) -> None:
    data = encode(0x10, b"\1" * 320) + encode(0x10, tail)[:-1] if tail else b"\x10\x01"
    got = asyncio.run(_read_all(data))
    assert all(k == 0x10 for k, _ in got)


def test_an_oversized_payload_is_refused_before_it_is_read() -> None:
    async def go() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(b"\x10\xff\xff")
        with pytest.raises(ValueError, match="65535"):
            await read_message(reader)

    asyncio.run(go())


def test_bad_kinds_and_sizes_cannot_be_encoded() -> None:
    with pytest.raises(ValueError, match="one byte"):
        encode(256)
    with pytest.raises(ValueError, match="one byte"):
        encode(0x10, b"\0" * 65536)
