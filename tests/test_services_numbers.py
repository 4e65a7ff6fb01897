import pytest

from app.services.numbers import INT32_MAX, record_number


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", 1),
        (" 42 ", 42),
        (str(INT32_MAX), INT32_MAX),
        (str(INT32_MAX + 1), None),
        ("99999999999999999999999", None),
        ("0", None),
        ("-3", None),
        ("²", None),  # str.isdigit() says yes; int() says no
        ("١٢", None),  # Arabic-Indic digits
        ("12a", None),
        ("", None),
        (None, None),
        (7, 7),
        (True, None),
        (2**63, None),
        (3.0, None),
    ],
)
def test_only_numbers_a_row_could_have_are_read(value, expected):
    assert record_number(value) == expected
