import pytest
from django.core.exceptions import ValidationError

from organizations.validators import business_id_normalize


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("0112038-9", "0112038-9"),
        (" 1572860-0 ", "1572860-0"),
        ("01120389", "0112038-9"),
        ("112038-9", "0112038-9"),
    ],
)
def test_valid_business_ids_are_normalized(raw, expected):
    assert business_id_normalize(raw) == expected


@pytest.mark.parametrize("raw", ["0112038-8", "1572860-1"])
def test_wrong_check_digit_is_refused(raw):
    with pytest.raises(ValidationError) as exc:
        business_id_normalize(raw)
    assert exc.value.code == "business_id_check"


@pytest.mark.parametrize("raw", ["", "abc", "12345678-9", "1234-5", "0112038_9"])
def test_malformed_business_ids_are_refused(raw):
    with pytest.raises(ValidationError) as exc:
        business_id_normalize(raw)
    assert exc.value.code == "business_id_format"
