"""Feed cursors (``<calls id>_<crm id>``): every pair of Redis stream ids (two unsigned
64-bit halves each) round-trips; anything else is a clear 422 ``invalid-cursor``, never an
error from Redis."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api_gateway.errors import ApiError
from api_gateway.services.feeds import format_cursor, parse_cursor

U64 = st.integers(min_value=0, max_value=2**64 - 1)
IDS = st.tuples(U64, U64).map(lambda p: f"{p[0]}-{p[1]}")


@given(st.lists(IDS, min_size=1, max_size=3))
def test_every_pair_of_stream_ids_round_trips(ids: list[str]) -> None:
    assert parse_cursor(format_cursor(ids), len(ids)) == ids


@given(
    st.lists(IDS, min_size=2, max_size=2),
    st.integers(min_value=2**64, max_value=10**20 - 1),
    st.booleans(),
    st.integers(min_value=0, max_value=1),
)
def test_a_half_beyond_64_bits_is_refused(
    ids: list[str], big: int, in_seq: bool, which: int
) -> None:
    ids[which] = f"0-{big}" if in_seq else f"{big}-0"
    with pytest.raises(ApiError) as refused:
        parse_cursor(format_cursor(ids), 2)
    assert (refused.value.status, refused.value.error_id) == (422, "invalid-cursor")


@given(st.text(max_size=60))
def test_any_text_is_a_cursor_or_a_422(text: str) -> None:
    status = 200
    try:
        parsed = parse_cursor(text, 2)
    except ApiError as err:
        status = err.status
    else:
        assert format_cursor(parsed) == text
    assert status in (200, 422)


@pytest.mark.parametrize(
    "text", ["\u0661-\u0660_0-0", "0-0_\uff10-0", "1-1_2-2_3-3", "1_2", "-1-0_0-0", ""]
)
def test_not_ascii_stream_ids_are_refused(text: str) -> None:
    with pytest.raises(ApiError) as refused:
        parse_cursor(text, 2)
    assert refused.value.error_id == "invalid-cursor"
