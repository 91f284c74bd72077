"""FrameSplitter and event_name: reads of any shape give the same frames."""

from __future__ import annotations

import pytest

from aioami import FrameError, FrameSplitter, event_name

BANNER = b"Asterisk Call Manager/2.10.6\r\n"  # AMI 2 (Asterisk 13): legacy Follows possible
A = b"Event: Newchannel\r\nChannel: PJSIP/100-0001\r\nUniqueid: 1.1"
B = b"Response: Success\r\nActionID: 7\r\nMessage: ok"
C = b"Event: Hangup\r\nCause: 16"
STREAM = BANNER + A + b"\r\n\r\n" + B + b"\r\n\r\n" + C + b"\r\n\r\n"


def feed_all(chunks: list[bytes], **kwargs: int) -> tuple[FrameSplitter, list[bytes]]:
    splitter = FrameSplitter(**kwargs)  # type: ignore[arg-type]
    frames: list[bytes] = []
    for chunk in chunks:
        frames += splitter.feed(chunk)
    return splitter, frames


def test_several_frames_in_one_read_come_out_in_order() -> None:
    splitter, frames = feed_all([STREAM])
    assert frames == [A, B, C]
    assert splitter.banner == BANNER.rstrip()
    assert splitter.buffered == 0


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_a_stream_split_at_any_byte_gives_the_same_frames(cut: int) -> None:
    _, frames = feed_all([STREAM[:cut], STREAM[cut:]])
    assert frames == [A, B, C]


def test_one_byte_reads_give_the_same_frames() -> None:
    _, frames = feed_all([bytes([b]) for b in STREAM])
    assert frames == [A, B, C]


@pytest.mark.parametrize(
    "stream",
    [
        BANNER + b"\r\n" + A + b"\r\n\r\n\r\n" + B + b"\r\n\r\n\r\n\r\n" + C + b"\r\n\r\n",
        BANNER + A + b"\r\n\r\n" + b"\r\n" * 5 + B + b"\r\n\r\n" + C + b"\r\n\r\n\r\n",
    ],
    ids=["between-frames", "runs-of-blank-lines"],
)
def test_stray_blank_lines_belong_to_no_frame(stream: bytes) -> None:
    for cut in range(1, len(stream)):
        _, frames = feed_all([stream[:cut], stream[cut:]])
        assert frames == [A, B, C], cut


def test_a_bare_lf_peer_is_detected_from_the_banner() -> None:
    a, c = A.replace(b"\r\n", b"\n"), C.replace(b"\r\n", b"\n")
    _, frames = feed_all([b"Asterisk Call Manager/1.1\n" + a + b"\n\n" + c + b"\n\n"])
    assert frames == [a, c]
    assert event_name(frames[0]) == b"Newchannel"


LEGACY = (
    b"Response: Follows\r\nPrivilege: Command\r\nActionID: 3\r\n"
    b"Name: 100\n\nStatus: OK\r\n\r\nmore text\n--END COMMAND--"
)


@pytest.mark.parametrize("cut", range(1, len(LEGACY) + 8, 7))
def test_a_legacy_follows_frame_runs_to_end_command_across_blank_lines(cut: int) -> None:
    stream = BANNER + A + b"\r\n\r\n" + LEGACY + b"\r\n\r\n" + C + b"\r\n\r\n"
    _, frames = feed_all([stream[:cut], stream[cut:]])
    assert frames == [A, LEGACY, C]


def test_an_oversized_frame_raises_and_the_buffer_stays_bounded() -> None:
    splitter = FrameSplitter(expect_banner=False, max_frame_bytes=1000)
    for _ in range(8):
        splitter.feed(b"Event: X\r\nData: " + b"y" * 100)
    assert 900 < splitter.buffered <= 1000
    with pytest.raises(FrameError, match="exceeds 1000 bytes"):
        splitter.feed(b"y" * 100)
    assert splitter.buffered == 0


def test_a_frame_with_too_many_headers_raises() -> None:
    splitter = FrameSplitter(expect_banner=False, max_headers=10)
    assert splitter.feed(b"Event: X\r\n" + b"H: v\r\n" * 8 + b"\r\n")
    with pytest.raises(FrameError, match="more than 10 header lines"):
        splitter.feed(b"Event: X\r\n" + b"H: v\r\n" * 10 + b"\r\n")


def test_good_frames_before_the_offending_one_are_salvaged() -> None:
    splitter = FrameSplitter(expect_banner=False, max_frame_bytes=100)
    with pytest.raises(FrameError):
        splitter.feed(A + b"\r\n\r\n" + C + b"\r\n\r\nEvent: Big\r\nD: " + b"z" * 200)
    assert splitter.salvaged == [A, C]


def test_a_missing_banner_line_is_bounded() -> None:
    splitter = FrameSplitter()
    with pytest.raises(FrameError, match="no banner"):
        splitter.feed(b"x" * 300)


@pytest.mark.parametrize(
    ("frame", "name"),
    [
        (A, b"Newchannel"),
        (b"Event: FullyBooted", b"FullyBooted"),
        (b"Event: Bare\nX: y", b"Bare"),
        (B, b""),
        (b"", b""),
        (b"event: lower", b""),
    ],
)
def test_event_name_reads_only_the_first_line(frame: bytes, name: bytes) -> None:
    assert event_name(frame) == name


def test_blank_lines_are_dropped_even_next_to_a_frame_starting_with_a_control_byte() -> None:
    stream = BANNER + b"\tOdd: 1\r\n\r\n\r\n" + C + b"\r\n\r\n"
    _, frames = feed_all([stream])
    assert frames == [b"\tOdd: 1", C]


def test_the_banner_decides_whether_legacy_command_output_is_looked_for() -> None:
    legacy = b"Response: Follows\r\nActionID: 1\r\ntext\r\n\r\nmore\n--END COMMAND--\r\n\r\n"
    old = FrameSplitter()
    assert old.feed(b"Asterisk Call Manager/2.10.6\r\n" + legacy) == [legacy[:-4]]
    modern = FrameSplitter()
    frames = modern.feed(b"Asterisk Call Manager/11.0.0\r\n" + legacy)
    assert frames == [b"Response: Follows\r\nActionID: 1\r\ntext", b"more\n--END COMMAND--"]
