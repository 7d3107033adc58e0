"""`{% worker_health_warning %}`: the campaign admin pages warn when the scheduler or the
workers have not been heard from (config/worker_health.py)."""

from django import template

from config.worker_health import health_get

register = template.Library()


@register.inclusion_tag("config/worker_health_warning.html")
def worker_health_warning():
    return {"health": health_get()}
