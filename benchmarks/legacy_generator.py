"""Realistic legacy e-service exports for the migration benchmark and manual testing.

Several services with their own formats (comma CSV in UTF-8, semicolon CSV in cp1252 with a
BOM-less header, JSON Lines), overlapping people (one person has accounts in 1-3 services,
sometimes with another name spelling), organizations with valid Finnish business IDs, shared
mailboxes, invalid emails and business IDs, and a small share of bad rows (no username,
unreadable dates, broken quoting).

    python benchmarks/legacy_generator.py --rows 10000 --out /tmp/legacy
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import json
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from passlib import hash as ph

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from migration.legacy_export import LEGACY_COLUMNS  # noqa: E402

FIRST_NAMES = [
    "Matti",
    "Pekka",
    "Juha",
    "Timo",
    "Mikko",
    "Jari",
    "Antti",
    "Ville",
    "Sami",
    "Janne",
    "Anna",
    "Maria",
    "Aino",
    "Liisa",
    "Päivi",
    "Sari",
    "Tiina",
    "Sanna",
    "Helena",
    "Eeva",
    "Jyrki",
    "Äijö",
    "Öhman",
    "Erik",
    "Johan",
    "Kristiina",
    "Tuula",
    "Riitta",
    "Kaisa",
    "Veikko",
]
LAST_NAMES = [
    "Virtanen",
    "Korhonen",
    "Mäkinen",
    "Nieminen",
    "Mäkelä",
    "Hämäläinen",
    "Laine",
    "Heikkinen",
    "Koskinen",
    "Järvinen",
    "Lehtonen",
    "Lehtinen",
    "Saarinen",
    "Salminen",
    "Heinonen",
    "Niemi",
    "Heikkilä",
    "Kinnunen",
    "Salonen",
    "Turunen",
    "Bäckman",
    "Öberg",
    "Åberg",
    "Lindström",
    "Söderholm",
    "Kärkkäinen",
    "Räsänen",
    "Pöllänen",
    "Törmä",
    "Ylönen",
]
COMPANY_WORDS = [
    "Kuljetus",
    "Rakennus",
    "Leipomo",
    "Sähkö",
    "Metalli",
    "Puu",
    "Kauppa",
    "Logistiikka",
    "Konepaja",
    "Tilitoimisto",
    "Kiinteistö",
    "Maalaus",
    "Putki",
    "Kahvila",
    "Kukka",
]
SUFFIXES = ["Oy", "Ky", "Ab", "Oy Ab", "Tmi", "Oyj"]
SHARED = ["info", "toimisto", "asiakaspalvelu", "laskutus", "office", "kundtjanst"]
DOMAINS = ["example.fi", "esimerkki.fi", "posti-demo.fi", "yritys.example.com"]
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2)
_ASCII = str.maketrans("äöå", "aoa")


def business_id(n: int) -> str:
    base = 1_000_000 + n * 7
    while True:
        body = f"{base % 10_000_000:07d}"
        rem = sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11
        if rem != 1:
            return f"{body}-{0 if rem == 0 else 11 - rem}"
        base += 1


def _hash_pool(rnd: random.Random) -> list[str]:
    """A pool of legacy hashes of many schemes (made with hashlib: this is test data)."""
    pool = []
    for i in range(64):
        pw = f"salasana{i}".encode()
        salt = rnd.randbytes(8)
        pool += [
            hashlib.md5(pw).hexdigest(),  # noqa: S324
            hashlib.sha1(pw).hexdigest(),  # noqa: S324
            "{SHA}" + base64.b64encode(hashlib.sha1(pw).digest()).decode(),  # noqa: S324
            "{SSHA}" + base64.b64encode(hashlib.sha1(pw + salt).digest() + salt).decode(),  # noqa: S324
            "{MD5}" + base64.b64encode(hashlib.md5(pw).digest()).decode(),  # noqa: S324
            "{SMD5}" + base64.b64encode(hashlib.md5(pw + salt).digest() + salt).decode(),  # noqa: S324
        ]
    # Slow schemes are expensive to make: a few fixed ones, reused.
    pool += [
        ph.bcrypt.using(rounds=4).hash("salasana-bcrypt"),
        ph.sha512_crypt.using(rounds=5000).hash("salasana-sha512"),
        "plaintext-not-a-hash",
    ]
    return pool


@dataclass
class Person:
    first: str
    last: str
    email: str
    phone: str
    org: int | None
    admin: bool


def _people(count: int, orgs: int, rnd: random.Random) -> list[Person]:
    people = []
    for i in range(count):
        first, last = rnd.choice(FIRST_NAMES), rnd.choice(LAST_NAMES)
        local = f"{first}.{last}{i}".lower().translate(_ASCII)
        roll = rnd.random()
        if roll < 0.01:
            email = f"{rnd.choice(SHARED)}@yritys{i % max(orgs, 1)}.fi"
        elif roll < 0.015:
            email = f"{local}-at-{rnd.choice(DOMAINS)}"  # invalid
        elif roll < 0.02:
            email = ""
        else:
            email = f"{local}@{rnd.choice(DOMAINS)}"
            if rnd.random() < 0.1:
                email = " " + email.upper() + " "
        org = rnd.randrange(orgs) if orgs and rnd.random() < 0.7 else None
        people.append(
            Person(
                first, last, email, f"+35840{rnd.randrange(10**7):07d}", org, rnd.random() < 0.15
            )
        )
    return people


def _org_name(n: int, rnd: random.Random) -> str:
    return (
        f"{COMPANY_WORDS[n % len(COMPANY_WORDS)]} {LAST_NAMES[n % len(LAST_NAMES)]} {n} "
        f"{SUFFIXES[n % len(SUFFIXES)]}"
    )


# The export columns (one definition, `migration.legacy_export`); names come split in two.
HEADER = [c for c in LEGACY_COLUMNS if c != "full_name"]


def rows_for_service(
    service_index: int, people: list[Person], share: float, rnd: random.Random, pool: list[str]
) -> Iterator[dict[str, str]]:
    for i, person in enumerate(people):
        if rnd.random() > share:
            continue
        first = person.first if rnd.random() > 0.05 else person.first[:1] + "."
        day, month = rnd.randrange(1, 28), rnd.randrange(1, 13)
        date = (
            f"{day:02d}.{month:02d}.2023 {rnd.randrange(24):02d}:{rnd.randrange(60):02d}"
            if service_index % 2
            else f"2023-{month:02d}-{day:02d}T08:30:00"
        )
        org = person.org
        bid = business_id(org) if org is not None else ""
        if org is not None and rnd.random() < 0.002:
            bid = bid[:-1] + str((int(bid[-1]) + 1) % 10)  # wrong check digit
        row = {
            "username": f"s{service_index}u{i}",
            "email": person.email,
            "first_name": first,
            "last_name": person.last,
            "phone": person.phone if rnd.random() < 0.5 else "",
            "business_id": bid,
            "organization_name": _org_name(org, rnd) if org is not None else "",
            "role": "admin" if person.admin else "user",
            "password_hash": rnd.choice(pool),
            "last_login": date,
            "active": "1" if rnd.random() > 0.03 else "0",
        }
        bad = rnd.random()
        if bad < 0.001:
            row["username"] = ""
        elif bad < 0.002:
            row["last_login"] = "32.13.2023 99:99"
        yield row


@dataclass
class GeneratedFile:
    service: str
    path: Path
    encoding: str | None
    rows: int


def generate(rows: int, out: Path, services: int = 5, seed: int = 42) -> list[GeneratedFile]:
    """Write about `rows` rows over `services` exports; returns the files."""
    rnd = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    # Each person is in ~1.7 services on average.
    share = min(1.0, 1.7 / services)
    people = _people(max(1, int(rows / (share * services))), max(1, rows // 12), rnd)
    pool = _hash_pool(rnd)
    files = []
    for s in range(services):
        code = f"legacy{s}"
        kind = ("csv-comma", "csv-semicolon-cp1252", "jsonl")[s % 3]
        path = out / (f"{code}.jsonl" if kind == "jsonl" else f"{code}.csv")
        count = 0
        if kind == "jsonl":
            with path.open("w", encoding="utf-8") as handle:
                for row in rows_for_service(s, people, share, rnd, pool):
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                    count += 1
            encoding = None
        else:
            encoding = "cp1252" if kind == "csv-semicolon-cp1252" else None
            delimiter = ";" if encoding else ","
            with path.open(
                "w", encoding=encoding or "utf-8", newline="", errors="replace"
            ) as handle:
                writer = csv.writer(handle, delimiter=delimiter)
                writer.writerow(HEADER)
                for row in rows_for_service(s, people, share, rnd, pool):
                    writer.writerow([row[h] for h in HEADER])
                    count += 1
                    if count % 1000 == 0:
                        handle.write(f'broken{s}_{count}{delimiter}"unclosed"quote{delimiter}x\r\n')
        files.append(GeneratedFile(code, path, encoding, count))
    return files


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--services", type=int, default=5)
    parser.add_argument("--out", type=Path, required=True)
    args, _unknown = parser.parse_known_args()
    for f in generate(args.rows, args.out, args.services):
        print(f"{f.service}: {f.rows} rows -> {f.path} ({f.encoding or 'utf-8'})")


if __name__ == "__main__":
    main()
