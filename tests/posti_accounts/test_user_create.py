import threading

import pytest
from allauth.account.models import EmailAddress
from django.db import connection

from kernel.errors import ApplicationError
from posti_accounts.models import AuditEvent, User
from posti_accounts.services import MSG_EMAIL_TAKEN, user_create


@pytest.mark.django_db
def test_user_create_makes_email_address_row_and_audit_event():
    user = user_create(email=" Liisa.Laine@Example.fi ", password="a-long-password-123")
    assert user.email == "liisa.laine@example.fi"
    address = EmailAddress.objects.get(user=user)
    assert (address.email, address.primary, address.verified) == (user.email, True, False)
    event = AuditEvent.objects.get(action="user.created")
    assert event.target_user == user
    assert "a-long-password-123" not in str(event.details)
    assert user.password_changed_at is not None


@pytest.mark.django_db
def test_user_create_refuses_same_email_in_other_case():
    user_create(email="pekka@example.fi")
    with pytest.raises(ApplicationError) as exc:
        user_create(email="PEKKA@EXAMPLE.FI")
    assert exc.value.code == "email_taken"
    assert exc.value.message == MSG_EMAIL_TAKEN
    assert User.objects.count() == 1 and EmailAddress.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_creation_with_different_case_creates_one_user():
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def create(email):
        try:
            barrier.wait(timeout=10)
            user_create(email=email)
            outcomes.append("created")
        except ApplicationError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=create, args=(e,)) for e in ("race@example.fi", "RACE@example.FI")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["created", "email_taken"]
    assert User.objects.filter(email="race@example.fi").count() == 1
    assert EmailAddress.objects.filter(email__iexact="race@example.fi").count() == 1
