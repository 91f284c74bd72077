"""The FastAGI wire format, pure."""

from __future__ import annotations

import pytest

from voice_bot.agiproto import AgiEnv, Reply, Status, format_command, parse_env_line, parse_reply


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        ("200 result=0 endpos=12000", Reply("0", "", 12000)),
        ("200 result=49 endpos=800", Reply("49", "", 800)),
        ("200 result=-1 endpos=0", Reply("-1", "", 0)),
        ("200 result=1 (some value with spaces)", Reply("1", "some value with spaces")),
        ("200 result=0 (timeout) endpos=16000", Reply("0", "timeout", 16000)),
        ("200 result=35 (dtmf) endpos=4000", Reply("35", "dtmf", 4000)),
        ("200 result=0123", Reply("0123")),
        ("200 result= (timeout)", Reply("", "timeout")),
        ("200 result=1 (a (nested) value)", Reply("1", "a (nested) value")),
    ],
)
def test_200_replies_parse_into_result_data_and_endpos(line: str, reply: Reply) -> None:
    assert parse_reply(line + "\n") == reply


def test_reply_helpers_give_the_digit_and_the_integer() -> None:
    assert Reply("49").digit == "1"
    assert Reply("35").digit == "#"
    assert Reply("0").digit == ""
    assert Reply("-1").code == -1
    assert Reply("").code == 0


@pytest.mark.parametrize(
    ("line", "status"),
    [
        ("510 Invalid or unknown command", Status(510, "Invalid or unknown command")),
        ("511 Command Not Permitted on a dead channel or intercept routine",
         Status(511, "Command Not Permitted on a dead channel or intercept routine")),
        ("520-Invalid command syntax.  Proper usage follows:",
         Status(520, "Invalid command syntax.  Proper usage follows:", more=True)),
        ("520 Invalid command syntax.  Proper usage not available.",
         Status(520, "Invalid command syntax.  Proper usage not available.")),
    ],
)  # fmt: skip
def test_error_statuses_parse_with_the_multiline_flag(line: str, status: Status) -> None:
    assert parse_reply(line) == status


def test_garbage_is_not_a_reply() -> None:
    with pytest.raises(ValueError, match="not an AGI reply"):
        parse_reply("hello")


def test_commands_quote_arguments_with_spaces_quotes_and_empty_ones() -> None:
    assert format_command("STREAM FILE", "/snd/ab/abc", "") == b'STREAM FILE /snd/ab/abc ""\n'
    assert format_command("VERBOSE", 'say "hi" now', "1") == b'VERBOSE "say \\"hi\\" now" 1\n'
    assert format_command("EXEC", "Dial", "PJSIP/100,30") == b"EXEC Dial PJSIP/100,30\n"
    with pytest.raises(ValueError, match="line break"):
        format_command("VERBOSE", "a\nb")


def test_environment_lines_and_the_blank_terminator() -> None:
    assert parse_env_line("agi_callerid: +79161234567\n") == ("agi_callerid", "+79161234567")
    assert parse_env_line("agi_accountcode: \n") == ("agi_accountcode", "")
    assert parse_env_line("\n") is None
    with pytest.raises(ValueError, match="environment"):
        parse_env_line("HANGUP")


def test_env_gives_args_in_order_and_hides_unknown_callerid() -> None:
    env = AgiEnv(values={"agi_arg_1": "a", "agi_arg_2": "b c", "agi_callerid": "unknown",
                         "agi_network_script": "dialog"})  # fmt: skip
    assert env.args == ["a", "b c"]
    assert env.callerid == ""
    assert env.script == "dialog"
