from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from django.core.management import call_command

from posti_accounts.demo import DEMO_PASSWORD, DEMO_USERS
from posti_accounts.models import User


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_prints_logins():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    counts = (User.objects.count(), EmailAddress.objects.count())
    call_command("seed_demo", stdout=StringIO())
    assert (User.objects.count(), EmailAddress.objects.count()) == counts
    text = out.getvalue()
    for email, *_ in DEMO_USERS:
        assert email in text
        user = User.objects.get(email=email)
        assert user.check_password(DEMO_PASSWORD)
        assert EmailAddress.objects.get(user=user).verified
    # every user seeded by any app has its EmailAddress row (DESIGN: always in sync)
    assert not User.objects.exclude(emailaddress__email__isnull=False).exists()
