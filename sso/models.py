from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from oauth2_provider.settings import oauth2_settings


class RelyingParty(models.Model):
    """Links an OAuth/OIDC client (django-oauth-toolkit Application) to the e-service it is.

    Staff register e-services in the admin: an Application (client id, secret, redirect URIs)
    with this link. The e-service decides who may sign in (`EService.requires_membership`);
    `first_party` e-services are the operator's own and never show the consent page.
    """

    application = models.OneToOneField(
        oauth2_settings.APPLICATION_MODEL,
        verbose_name=_("OAuth application"),
        on_delete=models.CASCADE,
        related_name="relying_party",
    )
    eservice = models.ForeignKey(
        "organizations.EService",
        verbose_name=_("e-service"),
        on_delete=models.PROTECT,
        related_name="relying_parties",
    )
    first_party = models.BooleanField(
        _("first-party e-service"),
        default=False,
        help_text=_("The operator's own e-service: users are not asked for consent."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("e-service client")
        verbose_name_plural = _("e-service clients")

    def __str__(self) -> str:
        return f"{self.application} → {self.eservice}"
