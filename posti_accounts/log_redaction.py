"""A logging filter that masks anything that looks like a secret before it is written."""

import logging
import re

_SECRET_KEYS = r"(password|passwd|token|secret|otp|code|hash|key|authorization)"
_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)()[A-Za-z0-9._~+/=-]+"),
    re.compile(rf"(?i)(\b\w*{_SECRET_KEYS}\w*\b['\"]?\s*[=:]\s*)(['\"]?)[^\s'\",&]+"),
    re.compile(r"()()\$(2[aby]|6|argon2(id|i|d)?|pbkdf2[^$]*)\$[^\s'\"]+"),
]


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not stop logging
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True
