from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from migration.legacy_export import LEGACY_COLUMNS
from organizations.models import EService

HEADER = list(LEGACY_COLUMNS)


@pytest.fixture
def service(db):
    return EService.objects.get_or_create(
        code="lahetykset",
        defaults={"name_fi": "Lähetykset", "name_sv": "Försändelser", "name_en": "Shipments"},
    )[0]


@pytest.fixture
def service2(db):
    return EService.objects.get_or_create(
        code="laskutus",
        defaults={"name_fi": "Laskutus", "name_sv": "Fakturering", "name_en": "Invoicing"},
    )[0]


@pytest.fixture
def write_csv(tmp_path):
    counter = {"n": 0}

    def write(rows, *, delimiter=",", encoding="utf-8", header=HEADER, bom=False) -> Path:
        counter["n"] += 1
        path = tmp_path / f"export{counter['n']}.csv"
        with path.open("w", encoding="utf-8-sig" if bom else encoding, newline="") as handle:
            writer = csv.writer(handle, delimiter=delimiter)
            writer.writerow(header)
            for row in rows:
                writer.writerow([row.get(h, "") for h in header] if isinstance(row, dict) else row)
        return path

    return write


@pytest.fixture
def write_jsonl(tmp_path):
    def write(rows) -> Path:
        path = tmp_path / "export.jsonl"
        path.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
        return path

    return write
