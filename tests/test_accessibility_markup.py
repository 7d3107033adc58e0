"""The accessibility fixes that the browser tests (tests/e2e) found, checked without a browser."""

from __future__ import annotations

import re

import pytest
from django.contrib.admin.widgets import AdminSplitDateTime


def test_admin_date_and_time_inputs_each_have_a_label():
    html = AdminSplitDateTime().render("scheduled_at", None, attrs={"id": "id_scheduled_at"})
    for part in ("id_scheduled_at_0", "id_scheduled_at_1"):
        assert re.search(rf'<label[^>]* for="{part}"', html), html
        assert f'id="{part}"' in html


@pytest.mark.django_db
def test_messages_live_region_wraps_the_list(client_logged_in):
    response = client_logged_in.post("/profile/details/confirm/", follow=True)
    html = response.content.decode()
    assert '<div role="status"><ul class="messages">' in html
    assert re.search(r"<ul[^>]*role=", html) is None
