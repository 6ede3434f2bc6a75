"""Database URLs and passwords never reach output unmasked."""

from __future__ import annotations

import pytest

from alphaplus.core.redaction import mask_secrets, register_secret, register_url_secrets
from alphaplus.core.settings import Settings


@pytest.mark.parametrize(
    "text, expected",
    [
        ("postgresql://bob:hunter22@db:5432/app", "postgresql://bob:***@db:5432/app"),
        ("postgresql+asyncpg://bob:pw@db/app", "postgresql+asyncpg://bob:***@db/app"),
        # an unescaped '@' or '/' in the password is masked whole, not cut at its first '@'
        ("postgresql://bob:p@ss/w@rd@db:5432/app", "postgresql://bob:***@db:5432/app"),
        ("cannot connect to postgresql://bob:x@h/d: [Errno 111] refused", "cannot connect to postgresql://bob:***@h/d: [Errno 111] refused"),
        ("postgresql://:only@h/d", "postgresql://:***@h/d"),
        ("host=db user=bob password=hunter22 dbname=app", "host=db user=bob password=*** dbname=app"),
        ("postgresql://bob@h/d?sslmode=require&password=hunter22", "postgresql://bob@h/d?sslmode=require&password=***"),
        ("ConnectionParameters(user='bob', password='hunter 22', database='app')",
         "ConnectionParameters(user='bob', password=***, database='app')"),
        ('{"user": "bob", "password": "hunter22"}', '{"user": "bob", "password": ***}'),
        ("sslpassword=keypass", "sslpassword=***"),
    ],
)
def test_passwords_are_masked(text, expected):
    assert mask_secrets(text) == expected


@pytest.mark.parametrize(
    "text",
    ["postgresql://bob@db:5432/app", "postgresql://db:5432/app", "http://example.com/a:b", "no secrets here"],
)
def test_text_without_a_password_is_unchanged(text):
    assert mask_secrets(text) == text


def test_a_registered_password_is_masked_even_on_its_own():
    register_secret("Zq9-lonely-secret")
    assert mask_secrets("the server said: Zq9-lonely-secret is wrong") == "the server said: *** is wrong"


def test_the_password_of_a_resolved_url_is_masked_in_its_escaped_and_plain_forms():
    register_url_secrets("postgresql://bob:Wx%2Fy%40z-77@db/app")
    assert "Wx/y@z-77" not in mask_secrets("decoded: Wx/y@z-77")
    assert "Wx%2Fy%40z-77" not in mask_secrets("raw: Wx%2Fy%40z-77")


def test_very_short_registered_secrets_do_not_mangle_output():
    register_secret("ab")
    assert mask_secrets("absolutely fine") == "absolutely fine"


def test_settings_never_show_the_database_password():
    settings = Settings(database_url="postgresql://bob:Settings-Secret-1@db/app")
    assert "Settings-Secret-1" not in repr(settings)
    assert "Settings-Secret-1" not in str(settings)
