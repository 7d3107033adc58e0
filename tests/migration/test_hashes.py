import pytest
from passlib import hash as ph

from migration import hashes

PASSWORD = "Salasana-123"

SCHEMES = {
    "bcrypt": lambda: ph.bcrypt.using(rounds=4).hash(PASSWORD),
    "ldap_salted_sha1": lambda: ph.ldap_salted_sha1.hash(PASSWORD),
    "ldap_salted_md5": lambda: ph.ldap_salted_md5.hash(PASSWORD),
    "ldap_sha1": lambda: ph.ldap_sha1.hash(PASSWORD),
    "ldap_md5": lambda: ph.ldap_md5.hash(PASSWORD),
    "hex_md5": lambda: ph.hex_md5.hash(PASSWORD),
    "hex_sha1": lambda: ph.hex_sha1.hash(PASSWORD),
    "sha512_crypt": lambda: ph.sha512_crypt.using(rounds=5000).hash(PASSWORD),
    "django_pbkdf2_sha256": lambda: ph.django_pbkdf2_sha256.using(rounds=1000).hash(PASSWORD),
    "django_pbkdf2_sha1": lambda: ph.django_pbkdf2_sha1.using(rounds=1000).hash(PASSWORD),
    "django_argon2": lambda: ph.django_argon2.hash(PASSWORD),
    "django_bcrypt_sha256": lambda: ph.django_bcrypt_sha256.using(rounds=4).hash(PASSWORD),
    "django_bcrypt": lambda: ph.django_bcrypt.using(rounds=4).hash(PASSWORD),
    "django_salted_md5": lambda: ph.django_salted_md5.hash(PASSWORD),
    "django_salted_sha1": lambda: ph.django_salted_sha1.hash(PASSWORD),
}


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_each_scheme_is_recognized_and_verifies(scheme):
    legacy = SCHEMES[scheme]()
    recognized = hashes.recognize(legacy)
    assert recognized.scheme == scheme
    kwargs = {"scheme": scheme, "stored": recognized.hash, "salt": "", "wrapped": False}
    assert hashes.verify(PASSWORD, **kwargs)
    assert not hashes.verify("wrong-password", **kwargs)
    assert not hashes.verify("", **kwargs)


@pytest.mark.parametrize("scheme", sorted(hashes.WEAK_SCHEMES))
def test_weak_schemes_verify_after_wrapping(scheme):
    legacy = hashes.recognize(SCHEMES[scheme]()).hash
    wrapped, salt = hashes.wrap(scheme, legacy)
    assert wrapped.startswith("$argon2id$")
    assert legacy not in wrapped
    kwargs = {"scheme": scheme, "stored": wrapped, "salt": salt, "wrapped": True}
    assert hashes.verify(PASSWORD, **kwargs)
    assert not hashes.verify("wrong-password", **kwargs)


@pytest.mark.parametrize(
    "value, scheme",
    [
        ("5F4DCC3B5AA765D61D8327DEB882CF99", "hex_md5"),  # uppercase hex of "password"
        ("{sha}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "ldap_sha1"),  # lowercase LDAP prefix
    ],
)
def test_non_canonical_forms_are_normalized(value, scheme):
    recognized = hashes.recognize(value)
    assert recognized.scheme == scheme
    assert hashes.verify("password", scheme=scheme, stored=recognized.hash, salt="", wrapped=False)


def test_bcrypt_2y_and_2a_prefixes():
    legacy = ph.bcrypt.using(rounds=4).hash(PASSWORD)
    for prefix in ("$2y$", "$2a$"):
        variant = prefix + legacy[4:]
        recognized = hashes.recognize(variant)
        assert recognized.scheme == "bcrypt"
        assert hashes.verify(PASSWORD, scheme="bcrypt", stored=variant, salt="", wrapped=False)


@pytest.mark.parametrize(
    "value", ["plaintext", "{CRYPT}abc", "$1$abc$def", "sha256:xyz", "{SSHA}!!!notbase64"]
)
def test_unrecognized_formats(value):
    assert hashes.recognize(value).scheme == hashes.UNKNOWN
    assert hashes.recognize(value).hash == ""


def test_empty_hash_is_no_scheme():
    assert hashes.recognize("  ") == hashes.Recognized("", "")
