"""parse_frame on the shapes real peers send (see peers.md §4 for where each bit others)."""

from __future__ import annotations

import pytest

from aioami import parse_frame
from aioami._actions import command_output
from aioami.message import parse_frames_py

try:
    from aioami import _speedups
except ImportError:  # pragma: no cover - a build without a C compiler
    _speedups = None  # type: ignore[assignment]


def test_empty_values_are_kept_as_empty_strings() -> None:
    msg = parse_frame(b"Event: ChallengeSent\r\nChallenge: \r\nAccountCode:\r\nExten: 100")
    assert msg["Challenge"] == ""
    assert msg["AccountCode"] == ""
    assert msg["Exten"] == "100"


def test_repeated_keys_keep_every_value_in_order() -> None:
    msg = parse_frame(
        b"Event: Newexten\r\nChanVariable: A=1\r\nChanVariable: B=2\r\nVariable: X=1\r\n"
        b"Variable: Y=2\r\nVariable: Z=3"
    )
    assert msg["ChanVariable"] == "A=1"
    assert msg.getall("chanvariable") == ["A=1", "B=2"]
    assert msg.getall("Variable") == ["X=1", "Y=2", "Z=3"]
    assert msg.getall("Missing") == []


def test_keys_with_digits_and_parentheses_are_keys() -> None:
    msg = parse_frame(
        b"Event: VarSet\r\nChanVariable(PJSIP/100-01): x\r\nX-Header-2: y\r\nCodec1: ulaw"
    )
    assert msg["ChanVariable(PJSIP/100-01)"] == "x"
    assert msg["x-header-2"] == "y"
    assert msg["Codec1"] == "ulaw"


def test_keys_are_case_insensitive_and_keep_their_spelling() -> None:
    msg = parse_frame(b"Event: Hangup\r\nUniqueid: 1.2")
    assert msg["uniqueid"] == msg["UNIQUEID"] == "1.2"
    assert "uniqueid" in msg
    assert msg.pairs() == [("Event", "Hangup"), ("Uniqueid", "1.2")]


def test_a_continuation_line_joins_the_previous_value() -> None:
    msg = parse_frame(b"Event: UserEvent\r\nBody: first line\r\nsecond line\r\nNext: 1")
    assert msg["Body"] == "first line\nsecond line"
    assert msg["Next"] == "1"


CONTINUATION = b"Event: UserEvent\r\nBody: a: b\r\ncontinued"


@pytest.mark.skipif(_speedups is None, reason="the C speedup was not built here")
def test_a_continuation_line_after_a_value_holding_a_colon() -> None:
    msg = parse_frame(CONTINUATION)
    assert msg.pairs() == [("Event", "UserEvent"), ("Body", "a: b\ncontinued")]


@pytest.mark.xfail(
    strict=True,
    reason="known limit of the pure-Python fast path: a CRLF continuation line (which "
    "Asterisk never sends: multi-line values use LF or repeated keys) balanced by a value "
    "holding ': ' in the same frame is read as headers",
)
def test_the_pure_python_path_misreads_a_balanced_continuation_line() -> None:
    (msg,) = parse_frames_py([CONTINUATION])
    assert msg.pairs() == [("Event", "UserEvent"), ("Body", "a: b\ncontinued")]


def test_values_may_hold_colons() -> None:
    msg = parse_frame(b"Event: Newexten\r\nAppData: a: b: c\r\nApplication: NoOp")
    assert msg["AppData"] == "a: b: c"


def test_non_utf8_bytes_are_replaced_never_fatal() -> None:
    msg = parse_frame(b"Event: Newchannel\r\nCallerIDName: \xcf\xf0\xe8\r\nExten: 1")
    assert msg["CallerIDName"] == "\ufffd\ufffd\ufffd"
    assert msg["Exten"] == "1"


def test_output_lines_of_a_modern_command_reply() -> None:
    frame = b"Response: Success\r\nActionID: 1\r\nOutput: a\r\nOutput: \r\nOutput: b: c"
    msg = parse_frame(frame)
    assert msg.getall("Output") == ["a", "", "b: c"]
    assert command_output(msg) == "a\n\nb: c"


LEGACY_CRLF = (
    b"Response: Follows\r\nPrivilege: Command\r\nActionID: 1\r\n"
    b"Asterisk 13.38 built by root\r\nsecond line\r\n--END COMMAND--"
)
LEGACY_LF = (  # a one-line CLI answer holding ": ", bare LF as Asterisk <= 13 writes it
    b"Response: Follows\r\nPrivilege: Command\r\nActionID: 1\r\n"
    b"System uptime: 2 hours\n--END COMMAND--"
)
LEGACY_LF_LINES = (
    b"Response: Follows\r\nPrivilege: Command\r\nActionID: 1\r\n"
    b"Name       : 100\nSecret     : <Set>\n--END COMMAND--"
)


def test_legacy_follows_crlf_text_is_put_under_output() -> None:
    msg = parse_frame(LEGACY_CRLF)
    assert msg.response == "Follows"
    assert msg.getall("Output") == ["Asterisk 13.38 built by root", "second line"]


def test_legacy_follows_lf_text_is_put_under_output() -> None:
    msg = parse_frame(LEGACY_LF)
    assert msg.getall("Output") == ["System uptime: 2 hours"]


def test_legacy_follows_lf_text_of_several_lines_is_put_under_output() -> None:
    msg = parse_frame(LEGACY_LF_LINES)
    assert msg.getall("Output") == ["Name       : 100", "Secret     : <Set>"]


def test_legacy_follows_end_marker_glued_to_the_last_line_is_not_output() -> None:
    frame = b"Response: Follows\r\nPrivilege: Command\r\nActionID: 1\r\nno newline--END COMMAND--"
    assert parse_frame(frame).getall("Output") == ["no newline"]


@pytest.mark.parametrize("frame", [LEGACY_CRLF, LEGACY_LF, LEGACY_LF_LINES])
def test_command_output_reads_legacy_text_from_the_raw_frame(frame: bytes) -> None:
    text = command_output(parse_frame(frame))
    lines = frame.replace(b"\r\n", b"\n").decode().split("\n")[3:-1]
    assert text == "\n".join(lines)


def test_command_output_strips_an_end_marker_glued_to_the_last_line() -> None:
    frame = b"Response: Follows\r\nPrivilege: Command\r\nActionID: 1\r\nno newline--END COMMAND--"
    assert command_output(parse_frame(frame)) == "no newline"
