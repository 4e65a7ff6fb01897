"""Whole numbers sent by people and programs, checked against what the database holds.

Ids, ticket numbers, page numbers and counters are INTEGER columns (32 bits). A larger
number in a URL or form is no row at all, and PostgreSQL answers it with an error (a 500)
rather than "not found", so every number is read here first.
"""

INT32_MAX = 2**31 - 1


def record_number(value) -> int | None:
    """`value` (text or int) as a whole number from 1 to INT32_MAX; None for anything else.

    Text must be ASCII digits: "²".isdigit() is true, yet int("²") fails."""
    if isinstance(value, str):
        value = value.strip()
        if not (value.isascii() and value.isdigit()):
            return None
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 1 <= value <= INT32_MAX else None
