"""Phone normalisation: every Russian spelling to one E.164, extensions, junk, search forms."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cbcrm.exceptions import InvalidPhone
from cbcrm.phones import is_internal, normalize, search_forms, to_e164, trailing_digits

SPELLINGS = [
    "89161234567",
    "+79161234567",
    "79161234567",
    "9161234567",
    "8 (916) 123-45-67",
    "+7 916 123 45 67",
    " +7(916)123-45-67 ",
    "8-916-123-45-67",
]


@pytest.mark.parametrize("raw", SPELLINGS)
def test_every_russian_spelling_of_a_mobile_number_gives_the_same_e164(raw: str) -> None:
    assert to_e164(raw) == "+79161234567"


def test_a_landline_with_an_extension_keeps_the_extension_apart() -> None:
    phone = normalize("+7 495 123-45-67 доб. 123")
    assert (phone.kind, phone.e164, phone.extension) == ("external", "+74951234567", "123")


def test_a_foreign_number_keeps_its_country_whatever_the_default_region() -> None:
    assert to_e164("+44 20 7183 8750") == "+442071838750"
    assert to_e164("020 7183 8750", "GB") == "+442071838750"


@pytest.mark.parametrize("raw", ["100", "101", "5001", "12345"])
def test_short_numbers_are_internal_extensions(raw: str) -> None:
    phone = normalize(raw)
    assert (phone.kind, phone.extension, phone.e164) == ("internal", raw, "")
    assert is_internal(raw)
    with pytest.raises(InvalidPhone, match="internal"):
        to_e164(raw)


def test_the_internal_length_is_configurable() -> None:
    assert normalize("123456", max_internal_digits=6).kind == "internal"
    assert not is_internal("123456")


@pytest.mark.parametrize("raw", ["", "   ", "abc", "+7916", "hello 123456789"])
def test_junk_raises_a_clear_error(raw: str) -> None:
    with pytest.raises(InvalidPhone):
        normalize(raw)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("00882 1234 5678", "+88212345678"),
        ("+00882 1234 5678", "+88212345678"),
        ("810 882 1234 5678", "+88212345678"),
        ("8 809 123 45 67", "+78091234567"),
        ("+007809 1234567", "+78091234567"),
        ("810 375 29 123 4567", "+375291234567"),
    ],
)
def test_international_prefixes_become_plus(raw: str, e164: str) -> None:
    assert to_e164(raw) == e164


def test_strict_mode_refuses_numbers_outside_the_numbering_plan() -> None:
    assert to_e164("+7 100 123 45 67") == "+71001234567"
    with pytest.raises(InvalidPhone):
        normalize("+7 100 123 45 67", strict=True)


def test_search_forms_list_the_spellings_crms_store_most_specific_first() -> None:
    assert search_forms("+79161234567") == [
        "+79161234567",
        "79161234567",
        "89161234567",
        "9161234567",
    ]
    assert search_forms("+79161234567", "trailing") == ["9161234567"]
    assert search_forms("+442071838750") == ["+442071838750", "442071838750", "2071838750"]


def test_trailing_digits_match_amocrm_popups_last_eight() -> None:
    assert trailing_digits("+79161234567", 8) == "61234567"


def test_error_messages_do_not_echo_the_whole_number() -> None:
    with pytest.raises(InvalidPhone) as info:
        normalize("+7916123")
    assert "+7916123" not in str(info.value)


mobile = st.from_regex(r"9[0-9]{9}", fullmatch=True)


@st.composite
def spellings(draw: st.DrawFn) -> tuple[str, str]:
    nsn = draw(mobile)
    prefix = draw(st.sampled_from(["+7", "7", "8", ""]))
    seps = draw(st.lists(st.sampled_from(["", " ", "-", "(", ")", "."]), min_size=10, max_size=10))
    body = "".join(d + s for d, s in zip(nsn, seps, strict=True))
    return f"{prefix}{draw(st.sampled_from(['', ' ']))}{body}", f"+7{nsn}"


@given(spellings())
def test_any_formatting_of_a_mobile_number_normalises_to_its_e164(case: tuple[str, str]) -> None:
    raw, expected = case
    assert to_e164(raw) == expected


@given(st.from_regex(r"\+79[0-9]{9}", fullmatch=True))
def test_normalisation_is_idempotent_and_every_search_form_normalises_back(e164: str) -> None:
    assert to_e164(e164) == e164
    for form in search_forms(e164):
        assert to_e164(form) == e164


@given(st.text(max_size=30))
def test_arbitrary_text_either_normalises_or_raises_invalid_phone(text: str) -> None:
    try:
        phone = normalize(text)
    except InvalidPhone:
        return
    assert phone.e164.startswith("+") or phone.kind == "internal"
