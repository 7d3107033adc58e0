import pytest
from django.db import IntegrityError, transaction

from posti_accounts.models import User


@pytest.mark.django_db
def test_email_is_stored_lowercased():
    user = User.objects.create_user("Matti.Meikalainen@Example.FI", "x" * 20)
    user.refresh_from_db()
    assert user.email == "matti.meikalainen@example.fi"


@pytest.mark.django_db
def test_email_unique_case_insensitively_at_database_level():
    User.objects.create_user("anna@example.fi")
    with pytest.raises(IntegrityError), transaction.atomic():
        # bypass save() normalisation: the database itself must refuse it
        User.objects.bulk_create([User(email="ANNA@example.fi")])
    assert User.objects.filter(email__iexact="anna@example.fi").count() == 1


@pytest.mark.django_db
def test_required_actions_list_follows_flags():
    user = User.objects.create_user("b@example.fi")
    assert user.required_actions == []
    user.requires_update_password = True
    user.requires_verify_email = True
    assert user.required_actions == ["verify_email", "update_password"]
