from __future__ import annotations

import io

from organizations import demo
from organizations.models import EService, Invitation, Membership, Organization
from organizations.validators import business_id_normalize


def test_seed_is_idempotent_and_prints_logins(db):
    out = io.StringIO()
    demo.seed(stdout=out)
    counts = (
        EService.objects.count(),
        Organization.objects.count(),
        Membership.objects.count(),
        Invitation.objects.count(),
    )
    assert counts[0] >= 5 and counts[1] == 3 and counts[3] == 3
    text = out.getvalue()
    assert "paakayttaja@example.fi" in text and demo.DEMO_PASSWORD in text
    for org in Organization.objects.all():
        assert business_id_normalize(org.business_id) == org.business_id
        assert org.memberships.filter(role="main_user", status="active").exists()
    demo.seed(stdout=io.StringIO())
    assert counts == (
        EService.objects.count(),
        Organization.objects.count(),
        Membership.objects.count(),
        Invitation.objects.count(),
    )
    assert EService.objects.get(code="laskutus").name_sv == "Fakturering"
