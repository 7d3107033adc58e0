"""The only tags and filters staff-edited campaign templates may use.

Campaign texts are written in the admin and rendered for millions of recipients, so their
template engine has no `{% load %}` (no other libraries), no `{% include %}`/`{% extends %}`
(no files), no `{% debug %}` (it dumps the context and the loaded modules), no `{% url %}`
or `{% csrf_token %}`. The context holds only strings, and Django's template language
refuses attributes that start with an underscore.
"""

from django.template import Library, defaultfilters, defaulttags

ALLOWED_TAGS = (
    "autoescape",
    "comment",
    "cycle",
    "filter",
    "firstof",
    "for",
    "if",
    "ifchanged",
    "now",
    "regroup",
    "resetcycle",
    "spaceless",
    "templatetag",
    "verbatim",
    "widthratio",
    "with",
)

register = Library()
register.tags.update({name: defaulttags.register.tags[name] for name in ALLOWED_TAGS})
register.filters.update(defaultfilters.register.filters)
