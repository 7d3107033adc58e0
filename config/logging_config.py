"""The LOGGING dict: JSON lines in production (LOG_JSON, default on there), readable lines in
development; every line carries the request id (config/request_id.py) and passes the secret
redaction (posti_accounts/log_redaction.py). Imported by settings: no models here."""

from __future__ import annotations

READABLE = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"


def logging_config(*, json_lines: bool, level: str = "INFO") -> dict:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "config.request_id.RequestIdLogFilter"},
            "redact": {"()": "posti_accounts.log_redaction.RedactSecretsFilter"},
        },
        "formatters": {
            "readable": {"format": READABLE},
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": JSON_FIELDS,
                "rename_fields": {"asctime": "time"},
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "filters": ["request_id", "redact"],
                "formatter": "json" if json_lines else "readable",
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {"django.db.backends": {"level": "WARNING"}},
    }
