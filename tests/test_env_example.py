"""Every environment key the settings read is documented in .env.example."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV_CALL = re.compile(r'env(?:\.[a-z_]+)?\(\s*"([A-Z][A-Z0-9_]+)"')


def test_every_setting_read_from_the_environment_is_in_env_example():
    read = set()
    for path in (ROOT / "config" / "settings").glob("*.py"):
        read |= set(ENV_CALL.findall(path.read_text()))
    documented = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#") and "=" in line
    }
    assert read, "no env() calls found: the pattern is stale"
    assert sorted(read - documented) == []
