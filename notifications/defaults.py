"""Default subject and body of each campaign kind, in Finnish, Swedish and English.

Staff edit them per campaign. They are Django templates (plain text, no autoescaping) with
these variables:

- ``first_name``, ``last_name``, ``email``: the recipient
- ``action_url``: the link the email asks them to open (single-use for verify_and_renew)
- ``organization_names``: the recipient's active organizations, comma-separated
- ``cutover_date``: the campaign's cut-over date (merge_notice), e.g. 31.1.2027
- ``site_url``: the portal's address
- ``help_url``: the help page (the rollout's common questions)
"""

from __future__ import annotations

TEMPLATE_VARIABLES = (
    "first_name",
    "last_name",
    "email",
    "action_url",
    "organization_names",
    "cutover_date",
    "site_url",
    "help_url",
)

_HELP = {
    "fi": "Ohjeita ja vastauksia usein kysyttyihin: {{ help_url }}\n\n",
    "sv": "Hjälp och svar på vanliga frågor: {{ help_url }}\n\n",
    "en": "Help and answers to common questions: {{ help_url }}\n\n",
}
_SIGN = {
    lang: _HELP[lang] + sign
    for lang, sign in {
        "fi": "Ystävällisin terveisin\nPostin asiakaspalvelu",
        "sv": "Med vänliga hälsningar\nPostens kundtjänst",
        "en": "Kind regards\nPosti customer service",
    }.items()
}

DEFAULTS: dict[str, dict[str, tuple[str, str]]] = {
    "announcement": {
        "fi": (
            "Kirjautuminen Postin sähköisiin palveluihin uudistuu",
            "Hei {{ first_name }},\n\n"
            "kirjautuminen Postin sähköisiin palveluihin uudistuu. Jatkossa kirjaudut kaikkiin "
            "palveluihin yhdellä tunnuksella: sähköpostiosoitteellasi ja salasanalla.\n\n"
            "Lue lisää: {{ site_url }}\n\n" + _SIGN["fi"],
        ),
        "sv": (
            "Inloggningen till Postens e-tjänster förnyas",
            "Hej {{ first_name }},\n\n"
            "inloggningen till Postens e-tjänster förnyas. I fortsättningen loggar du in på "
            "alla tjänster med ett enda konto: din e-postadress och ett lösenord.\n\n"
            "Läs mer: {{ site_url }}\n\n" + _SIGN["sv"],
        ),
        "en": (
            "Logging in to Posti e-services is changing",
            "Hello {{ first_name }},\n\n"
            "logging in to Posti e-services is changing. From now on you log in to every "
            "service with one account: your email address and a password.\n\n"
            "Read more: {{ site_url }}\n\n" + _SIGN["en"],
        ),
    },
    "check_details": {
        "fi": (
            "Tarkista tietosi Postin sähköisissä palveluissa",
            "Hei {{ first_name }},\n\n"
            "kirjautuminen Postin sähköisiin palveluihin perustuu jatkossa "
            "sähköpostiosoitteeseesi. Varmista, että tiedoissasi on oma, toimiva "
            "sähköpostiosoitteesi ({{ email }}).\n\n"
            "{% if organization_names %}Organisaatiosi: {{ organization_names }}\n\n{% endif %}"
            "Tarkista tietosi: {{ action_url }}\n\n" + _SIGN["fi"],
        ),
        "sv": (
            "Kontrollera dina uppgifter i Postens e-tjänster",
            "Hej {{ first_name }},\n\n"
            "i fortsättningen baseras inloggningen till Postens e-tjänster på din "
            "e-postadress. Kontrollera att dina uppgifter innehåller din egen, fungerande "
            "e-postadress ({{ email }}).\n\n"
            "{% if organization_names %}Dina organisationer: {{ organization_names }}\n\n"
            "{% endif %}"
            "Kontrollera dina uppgifter: {{ action_url }}\n\n" + _SIGN["sv"],
        ),
        "en": (
            "Check your details in Posti e-services",
            "Hello {{ first_name }},\n\n"
            "logging in to Posti e-services will be based on your email address. Please make "
            "sure your details hold your own working email address ({{ email }}).\n\n"
            "{% if organization_names %}Your organizations: {{ organization_names }}\n\n"
            "{% endif %}"
            "Check your details: {{ action_url }}\n\n" + _SIGN["en"],
        ),
    },
    "merge_notice": {
        "fi": (
            "Vanhat tunnuksesi on yhdistetty",
            "Hei {{ first_name }},\n\n"
            "palvelukohtaiset tunnuksesi on yhdistetty yhdeksi tunnukseksi. "
            "{% if cutover_date %}{{ cutover_date }} alkaen{% else %}Jatkossa{% endif %} "
            "kirjaudut sähköpostiosoitteellasi {{ email }}. Vanhat käyttäjätunnukset lakkaavat "
            "toimimasta.\n\nKirjaudu: {{ action_url }}\n\n" + _SIGN["fi"],
        ),
        "sv": (
            "Dina gamla användarnamn har slagits ihop",
            "Hej {{ first_name }},\n\n"
            "dina tjänstespecifika användarnamn har slagits ihop till ett konto. "
            "{% if cutover_date %}Från och med {{ cutover_date }}{% else %}I fortsättningen"
            "{% endif %} loggar du in med din e-postadress {{ email }}. De gamla "
            "användarnamnen slutar fungera.\n\nLogga in: {{ action_url }}\n\n" + _SIGN["sv"],
        ),
        "en": (
            "Your old user IDs have been merged",
            "Hello {{ first_name }},\n\n"
            "your service-specific user IDs have been merged into one account. "
            "{% if cutover_date %}From {{ cutover_date }}{% else %}From now on{% endif %} you "
            "log in with your email address {{ email }}. The old user IDs will stop "
            "working.\n\nLog in: {{ action_url }}\n\n" + _SIGN["en"],
        ),
    },
    "verify_and_renew": {
        "fi": (
            "Vahvista sähköpostiosoitteesi ja vaihda salasanasi",
            "Hei {{ first_name }},\n\n"
            "vahvista sähköpostiosoitteesi {{ email }} ja aseta uusi salasana avaamalla "
            "alla oleva linkki. Linkki toimii kerran ja vanhenee 14 päivässä.\n\n"
            "{{ action_url }}\n\n" + _SIGN["fi"],
        ),
        "sv": (
            "Bekräfta din e-postadress och byt lösenord",
            "Hej {{ first_name }},\n\n"
            "bekräfta din e-postadress {{ email }} och välj ett nytt lösenord genom att öppna "
            "länken nedan. Länken fungerar en gång och går ut om 14 dagar.\n\n"
            "{{ action_url }}\n\n" + _SIGN["sv"],
        ),
        "en": (
            "Confirm your email address and set a new password",
            "Hello {{ first_name }},\n\n"
            "please confirm your email address {{ email }} and set a new password by opening "
            "the link below. The link works once and expires in 14 days.\n\n"
            "{{ action_url }}\n\n" + _SIGN["en"],
        ),
    },
    "custom": {
        "fi": ("", "Hei {{ first_name }},\n\n\n\n" + _SIGN["fi"]),
        "sv": ("", "Hej {{ first_name }},\n\n\n\n" + _SIGN["sv"]),
        "en": ("", "Hello {{ first_name }},\n\n\n\n" + _SIGN["en"]),
    },
}


def campaign_default_templates(kind: str) -> dict[str, str]:
    """Field values (subject_fi, body_fi, ...) for a new campaign of `kind`."""
    values: dict[str, str] = {}
    for lang, (subject, body) in DEFAULTS.get(kind, DEFAULTS["custom"]).items():
        values[f"subject_{lang}"] = subject
        values[f"body_{lang}"] = body
    return values
