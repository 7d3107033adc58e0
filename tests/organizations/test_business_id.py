import pytest
from django.core.exceptions import ValidationError

from organizations.validators import business_id_normalize, validate_business_id


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("0112038-9", "0112038-9"),
        (" 1572860-0 ", "1572860-0"),
        ("01120389", "0112038-9"),
        ("112038-9", "0112038-9"),
        ("1234567-1", "1234567-1"),
        ("2345678-0", "2345678-0"),  # remainder 0: check digit 0
        ("0737546-2", "0737546-2"),
    ],
)
def test_valid_business_ids_are_normalized(raw, expected):
    assert business_id_normalize(raw) == expected
    validate_business_id(raw)


@pytest.mark.parametrize("raw", ["0112038-8", "1572860-1", "1234567-2", "2345678-1"])
def test_wrong_check_digit_is_refused(raw):
    with pytest.raises(ValidationError) as exc:
        business_id_normalize(raw)
    assert exc.value.code == "business_id_check"


def test_remainder_one_is_never_valid():
    # 3456789: weighted sum mod 11 == 1, so no check digit can make it valid.
    for digit in range(10):
        with pytest.raises(ValidationError) as exc:
            business_id_normalize(f"3456789-{digit}")
        assert exc.value.code == "business_id_check"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "abc",
        "12345678-9",
        "1234-5",
        "0112038_9",
        "0112038-",
        "O112038-9",
        "0112038--9",
        # Non-ASCII digits would otherwise be stored as a second, "different" 0112038-9.
        "\uff10\uff11\uff11\uff12\uff10\uff13\uff18-\uff19",
        "\u0660\u0661\u0661\u0662\u0660\u0663\u0668-\u0669",
    ],
)
def test_malformed_business_ids_are_refused(raw):
    with pytest.raises(ValidationError) as exc:
        business_id_normalize(raw)
    assert exc.value.code == "business_id_format"
