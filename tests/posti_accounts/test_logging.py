"""Invariant 7: nothing secret reaches the logs, even when code logs carelessly."""

import logging

import pytest

from posti_accounts.audit import REDACTED, scrub
from posti_accounts.log_redaction import RedactSecretsFilter, redact


@pytest.mark.parametrize(
    "message,secret",
    [
        ("login password=hunter2-secret-value user=a@b.fi", "hunter2-secret-value"),
        ('payload {"token": "abc123token"}', "abc123token"),
        ("Authorization: Bearer eyJhbGciOi.JIUzI1NiJ9.sig", "eyJhbGciOi.JIUzI1NiJ9.sig"),
        ("legacy hash $2b$12$abcdefghijklmnopqrstuv1234567890ABCDEFGHIJKLMNOPQRS", "abcdefghijk"),
        ("otp_secret=JBSWY3DPEHPK3PXP", "JBSWY3DPEHPK3PXP"),
    ],
)
def test_redact_masks_secrets(message, secret):
    cleaned = redact(message)
    assert secret not in cleaned
    assert "***" in cleaned


def test_redact_keeps_ordinary_text():
    text = "user a@b.fi joined organization 1234567-1"
    assert redact(text) == text


def test_filter_rewrites_record_with_args(caplog):
    logger = logging.getLogger("tests.redaction")
    logger.addFilter(RedactSecretsFilter())
    try:
        with caplog.at_level(logging.INFO, logger="tests.redaction"):
            logger.info("reset for %s with token=%s", "a@b.fi", "s3cr3t-reset-key")
    finally:
        logger.filters.clear()
    assert "s3cr3t-reset-key" not in caplog.text
    assert "a@b.fi" in caplog.text


def test_audit_details_are_scrubbed_at_any_depth():
    details = {"fields": ["phone"], "nested": {"password": "x", "list": [{"otp_code": "123456"}]}}
    assert scrub(details) == {
        "fields": ["phone"],
        "nested": {"password": REDACTED, "list": [{"otp_code": REDACTED}]},
    }
