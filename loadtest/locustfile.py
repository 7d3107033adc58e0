"""Locust scenario for `make loadtest` (run by loadtest/run.py; needs LOADTEST_DATA).

Never import this module from Django code or from tests: `import locust` monkey-patches the
standard library (gevent).

LOADTEST_SCENARIO=mixed (default): members log in, read and edit Omat tiedot, sign in to an
e-service (OIDC authorize + token) and call the API with bearer tokens; main users list,
page and search the 2,000 members, invite people and call the members API.
LOADTEST_SCENARIO=login: nothing but full logins (GET the form, POST it), to compare the
login rate with the raw Argon2id rate.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import random
import re
import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from locust import HttpUser, between, constant, task

DATA = json.loads(Path(os.environ["LOADTEST_DATA"]).read_text())
SCENARIO = os.environ.get("LOADTEST_SCENARIO", "mixed")
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
LOGIN_GET = "GET /accounts/login/"
LOGIN_POST = "POST /accounts/login/"
_invite_numbers = itertools.count()
_run_tag = secrets.token_hex(3)


def _csrf(response) -> str:
    match = CSRF_RE.search(response.text)
    if match is None:
        raise ValueError(f"no CSRF token in {response.url} (HTTP {response.status_code})")
    return match.group(1)


class PortalUser(HttpUser):
    abstract = True
    email = ""

    def login(self) -> bool:
        self.client.cookies.clear()
        page = self.client.get("/accounts/login/", name=LOGIN_GET)
        with self.client.post(
            "/accounts/login/",
            data={
                "login": self.email,
                "password": DATA["password"],
                "csrfmiddlewaretoken": _csrf(page),
            },
            name=LOGIN_POST,
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"login answered {response.status_code}, not 302")
                return False
        return True

    def post_form(self, url: str, data: dict, name: str, expect: int):
        page = self.client.get(url, name="GET " + name)
        with self.client.post(
            url,
            data={**data, "csrfmiddlewaretoken": _csrf(page)},
            name="POST " + name,
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != expect:
                response.failure(f"answered {response.status_code}, not {expect}")
        return response


class LoginOnly(PortalUser):
    """Back-to-back logins of random users."""

    wait_time = constant(0)
    abstract = SCENARIO != "login"

    @task
    def login_again(self):
        self.email = random.choice(DATA["members"] + DATA["others"][:5000])
        self.login()


class Member(PortalUser):
    weight = 4
    wait_time = between(0.5, 1.5)
    abstract = SCENARIO != "mixed"

    def on_start(self):
        pool = DATA["members"] if random.random() < 0.5 else DATA["others"]
        self.email = random.choice(pool)
        self.token = DATA["tokens"].get(self.email) or random.choice(list(DATA["tokens"].values()))
        self.login()

    @task(6)
    def profile(self):
        self.client.get("/profile/", name="GET /profile/")

    @task(1)
    def events(self):
        self.client.get("/profile/events/", name="GET /profile/events/")

    @task(1)
    def organizations(self):
        self.client.get("/organizations/", name="GET /organizations/")

    @task(2)
    def details_edit(self):
        self.post_form(
            "/profile/details/",
            {
                "first_name": random.choice(["Aino", "Eino", "Helmi", "Väinö"]),
                "last_name": random.choice(["Korhonen", "Virtanen", "Mäkinen"]),
                "phone": "",
                "preferred_language": "fi",
            },
            "/profile/details/",
            302,
        )

    @task(3)
    def api_me(self):
        headers = {"Authorization": f"Bearer {self.token}"}
        self.client.get("/api/v1/me", headers=headers, name="API GET /api/v1/me")

    @task(1)
    def api_my_organizations(self):
        headers = {"Authorization": f"Bearer {self.token}"}
        self.client.get(
            "/api/v1/me/organizations", headers=headers, name="API GET /api/v1/me/organizations"
        )

    @task(2)
    def oidc_sign_in(self):
        verifier = secrets.token_urlsafe(48)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        query = urlencode(
            {
                "response_type": "code",
                "client_id": DATA["client_id"],
                "redirect_uri": DATA["redirect_uri"],
                "scope": "openid profile email",
                "state": secrets.token_urlsafe(8),
                "nonce": secrets.token_urlsafe(8),
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        with self.client.get(
            "/o/authorize/?" + query,
            name="OIDC GET /o/authorize/",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            location = response.headers.get("Location", "")
            if response.status_code != 302 or not location.startswith(DATA["redirect_uri"]):
                response.failure(f"authorize answered {response.status_code} {location[:80]}")
                return
            code = parse_qs(urlsplit(location).query).get("code", [""])[0]
        with self.client.post(
            "/o/token/",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": DATA["redirect_uri"],
                "code_verifier": verifier,
                "client_id": DATA["client_id"],
                "client_secret": DATA["client_secret"],
            },
            name="OIDC POST /o/token/",
            catch_response=True,
        ) as response:
            if response.status_code != 200 or "id_token" not in response.text:
                response.failure(f"token answered {response.status_code}")

    @task(1)
    def relogin(self):
        self.login()


class MainUser(PortalUser):
    weight = 1
    wait_time = between(0.5, 1.5)
    abstract = SCENARIO != "mixed"

    def on_start(self):
        self.email = random.choice(DATA["main_users"])
        self.token = DATA["tokens"][self.email]
        self.org = DATA["organization_id"]
        self.login()

    @task(3)
    def members(self):
        self.client.get(f"/organizations/{self.org}/", name="GET /organizations/<id>/ (members)")

    @task(2)
    def members_page(self):
        page = random.randint(2, 40)
        self.client.get(
            f"/organizations/{self.org}/?page={page}", name="GET /organizations/<id>/?page=N"
        )

    @task(3)
    def members_search(self):
        term = random.choice(DATA["search_terms"])
        self.client.get(
            f"/organizations/{self.org}/?q={term}", name="GET /organizations/<id>/?q=search"
        )

    @task(1)
    def invite(self):
        email = f"kutsu-{_run_tag}-{os.getpid()}-{next(_invite_numbers)}@invite.example.fi"
        self.post_form(
            f"/organizations/{self.org}/invite/",
            {"emails": email},
            "/organizations/<id>/invite/",
            200,
        )

    @task(1)
    def invitations(self):
        self.client.get(
            f"/organizations/{self.org}/invitations/", name="GET /organizations/<id>/invitations/"
        )

    @task(2)
    def api_members(self):
        headers = {"Authorization": f"Bearer {self.token}"}
        term = random.choice(DATA["search_terms"])
        self.client.get(
            f"/api/v1/organizations/{self.org}/members?q={term}",
            headers=headers,
            name="API GET /api/v1/organizations/<id>/members",
        )
