"""Secrets are redacted at the logging root: in messages (whatever handler receives them), in
extras and in tracebacks; ordinary text is left alone."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cbruntime import redact, setup_logging

KEY = "cbk_0123456789abcdef_" + "A" * 43
SESSION = "cbs_" + "b" * 43
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjo0Mn0.c2lnbmF0dXJl"


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogRecordFactory())
    buffer = io.StringIO()
    setup_logging("DEBUG", stream=buffer)
    try:
        yield buffer
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.setLogRecordFactory(saved[2])


def test_messages_extras_and_tracebacks_are_redacted(logs: io.StringIO) -> None:
    log = logging.getLogger("some.library")
    log.debug('%s - "WebSocket /v1/feeds?token=%s" [accepted]', "1.2.3.4", SESSION)
    log.info(
        "call", extra={"headers": {"authorization": f"Bearer {KEY}"}, "url": f"/x?sig=ff&c={JWT}"}
    )
    try:
        raise ValueError(f"bad token {KEY}")
    except ValueError:
        log.exception("failed")
    text = logs.getvalue()
    assert "token=***" in text
    assert "Bearer ***" in text
    for secret in (KEY, SESSION, JWT, "sig=ff"):
        assert secret not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["msg"] == '1.2.3.4 - "WebSocket /v1/feeds?token=***" [accepted]'
    assert "bad token ***" in lines[2]["exc"]


def test_another_handler_on_the_root_sees_messages_redacted(
    logs: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    logging.getLogger().addHandler(caplog.handler)
    logging.getLogger("uvicorn.error").info("GET /?token=%s", SESSION)
    assert SESSION not in caplog.text
    assert "token=***" in caplog.text


@given(st.text(max_size=80))
def test_redaction_never_leaves_a_callbridge_token(text: str) -> None:
    assert SESSION not in redact(text + SESSION + text)
    assert redact("error_code=42 and a recording") == "error_code=42 and a recording"
