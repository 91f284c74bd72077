"""Property tests: chunking never matters, random bytes never escape FrameError or the bound,
header maps survive encoding and parse_frame."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from aioami import FrameError, FrameSplitter, parse_frame

BANNER = b"Asterisk Call Manager/2.10.6\r\n"  # AMI 2 (Asterisk 13): legacy Follows possible
KEY = st.from_regex(r"[A-Za-z][A-Za-z0-9_()/-]{0,20}", fullmatch=True)
VALUE = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r\n\x85\u2028\u2029"),
    max_size=40,
)
HEADERS = st.lists(st.tuples(KEY, VALUE), min_size=0, max_size=12)


def encode(pairs: list[tuple[str, str]]) -> bytes:
    return b"\r\n".join(f"{k}: {v}".encode() for k, v in pairs)


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    name = draw(st.from_regex(r"[A-Za-z]{1,15}", fullmatch=True))
    return encode([("Event", name), *draw(HEADERS)])


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[bytes], bytes]:
    """Frames and their wire form, with stray blank lines between some of them."""
    body = draw(st.lists(frames(), max_size=8))
    wire = BANNER
    for frame in body:
        wire += b"\r\n" * draw(st.integers(0, 2)) + frame + b"\r\n\r\n"
    return body, wire


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@given(streams(), st.lists(st.integers(0, 10_000), max_size=30))
def test_any_chunking_of_a_stream_gives_the_same_frames(
    stream: tuple[list[bytes], bytes], cuts: list[int]
) -> None:
    expected, wire = stream
    splitter = FrameSplitter()
    got: list[bytes] = []
    for chunk in split_at(wire, cuts):
        got += splitter.feed(chunk)
    assert got == expected
    assert splitter.buffered == 0


NOISY = st.lists(
    st.one_of(st.binary(max_size=300), st.sampled_from([b"\r\n", b"\r\n\r\n", b"\n", b": "])),
    max_size=60,
)


@settings(max_examples=300)
@given(NOISY, st.booleans(), st.integers(256, 2048), st.integers(2, 64))
def test_random_bytes_raise_only_frame_error_and_the_buffer_stays_bounded(
    chunks: list[bytes], banner: bool, max_bytes: int, max_headers: int
) -> None:
    splitter = FrameSplitter(
        expect_banner=banner, max_frame_bytes=max_bytes, max_headers=max_headers
    )
    try:
        for chunk in chunks:
            for frame in splitter.feed(chunk):
                assert len(frame) <= max_bytes
                assert frame.count(b"\r\n") < max_headers
            assert splitter.buffered <= max_bytes
    except FrameError:
        assert splitter.buffered <= max_bytes


@given(HEADERS.map(lambda pairs: [("Event", "Test"), *pairs]))
def test_header_maps_round_trip_through_encoding_and_parse_frame(
    pairs: list[tuple[str, str]],
) -> None:
    msg = parse_frame(encode(pairs))
    assert msg.pairs() == pairs
    for key, _ in pairs:
        assert msg.getall(key) == [v for k, v in pairs if k.lower() == key.lower()]
        assert msg[key] == next(v for k, v in pairs if k == key)
