"""The help page's first texts: the rollout's common questions in Finnish, Swedish and English.
Staff edit them in the admin afterwards; this runs once and never overwrites their edits."""

from django.db import migrations

ENTRIES = [
    (
        "Mitä palveluja muutos koskee?",
        "Muutos koskee kaikkia Postin sähköisiä asiointipalveluja, joihin olet tähän asti "
        "kirjautunut palvelukohtaisella käyttäjätunnuksella, esimerkiksi lähetysten tekemistä, "
        "seurantaa ja laskutusta. Palvelut itse eivät muutu, vain tapa, jolla kirjaudut niihin.\n\n"
        "Jatkossa kirjaudut kaikkiin palveluihin samalla tunnuksella: omalla "
        "sähköpostiosoitteellasi ja salasanalla.",
        "Vilka tjänster gäller förändringen?",
        "Förändringen gäller alla Postens e-tjänster som du hittills har loggat in på med ett "
        "tjänstespecifikt användarnamn, till exempel att skapa försändelser, spåra dem och "
        "fakturering. Själva tjänsterna ändras inte, bara hur du loggar in på dem.\n\n"
        "I fortsättningen loggar du in på alla tjänster med samma konto: din egen e-postadress "
        "och ett lösenord.",
        "Which services does the change cover?",
        "The change covers every Posti e-service you have so far logged in to with a "
        "service-specific username, such as creating shipments, tracking and invoicing. The "
        "services themselves do not change, only how you log in to them.\n\n"
        "From now on you log in to every service with the same login: your own email address "
        "and a password.",
    ),
    (
        "Säilyvätkö organisaatioiden pääkäyttäjät?",
        "Kyllä. Organisaation pääkäyttäjät säilyvät, ja jokaisella organisaatiolla on aina "
        "vähintään yksi pääkäyttäjä. Pääkäyttäjä kutsuu jatkossakin organisaation käyttäjät, "
        "antaa heille oikeudet palveluihin ja näkee Käyttöönotto-sivulta, ketkä ovat jo "
        "vahvistaneet tietonsa ja ottaneet uuden kirjautumisen käyttöön.\n\n"
        "Jos organisaatiolta puuttuu pääkäyttäjä, Postin asiakaspalvelu nimeää sellaisen.",
        "Behålls organisationernas huvudanvändare?",
        "Ja. Organisationens huvudanvändare behålls, och varje organisation har alltid minst en "
        "huvudanvändare. Huvudanvändaren bjuder även i fortsättningen in organisationens "
        "användare, ger dem behörighet till tjänsterna och ser på sidan Införande vilka som "
        "redan har bekräftat sina uppgifter och börjat använda den nya inloggningen.\n\n"
        "Om en organisation saknar huvudanvändare utser Postens kundtjänst en.",
        "Do the organizations' main users stay?",
        "Yes. An organization's main users stay, and every organization always has at least "
        "one main user. The main user still invites the organization's users, gives them "
        "access to the services, and sees on the Rollout page who has already confirmed their "
        "details and started using the new login.\n\n"
        "If an organization has no main user, Posti customer service appoints one.",
    ),
    (
        "Mitä yhteiskäytössä oleville tunnuksille tapahtuu?",
        "Yhteiskäyttöisistä tunnuksista, esimerkiksi info@- tai toimisto@-osoitteella "
        "toimivista, luovutaan. Jokaisella käyttäjällä pitää olla oma tunnus ja oma "
        "sähköpostiosoite, jotta tiedetään, kuka palvelua käyttää, ja jotta jokainen voi "
        "suojata tunnuksensa omalla salasanallaan ja kaksivaiheisella tunnistautumisella.\n\n"
        "Jos olette käyttäneet yhteistä tunnusta, pyytäkää pääkäyttäjää kutsumaan jokainen "
        "käyttäjä hänen omalla sähköpostiosoitteellaan.",
        "Vad händer med delade konton?",
        "Delade konton, till exempel sådana som använder en info@- eller kontor@-adress, "
        "avvecklas. Varje användare ska ha ett eget konto och en egen e-postadress, så att det "
        "syns vem som använder tjänsten och så att var och en kan skydda sitt konto med ett "
        "eget lösenord och tvåstegsverifiering.\n\n"
        "Om ni har använt ett gemensamt konto, be huvudanvändaren bjuda in varje användare "
        "med hens egen e-postadress.",
        "What happens to shared accounts?",
        "Shared accounts, such as ones using an info@ or office@ address, are given up. Every "
        "user needs their own login and their own email address, so that it is known who uses "
        "the service and so that everyone can protect their login with their own password and "
        "two-step verification.\n\n"
        "If you have used a shared login, ask your main user to invite each user with their "
        "own email address.",
    ),
    (
        "Voinko käyttää yhtä tunnusta usean organisaation asioihin?",
        "Kyllä. Yhdellä tunnuksella voi asioida usean organisaation puolesta. Kun sinut on "
        "kutsuttu useaan organisaatioon, valitset sivun yläreunasta, minkä organisaation "
        "asioita hoidat.\n\n"
        "Eri organisaatioille ei siis tarvita eri tunnuksia. Jos kuitenkin haluat pitää "
        "jonkin yrityksen asiat erillään, tarvitset sitä varten toisen sähköpostiosoitteen, "
        "koska yksi sähköpostiosoite on yksi tunnus.",
        "Kan jag använda ett konto för flera organisationer?",
        "Ja. Med ett konto kan du sköta ärenden för flera organisationer. När du har bjudits in "
        "till flera organisationer väljer du högst upp på sidan vilken organisations ärenden du "
        "sköter.\n\n"
        "Du behöver alltså inte olika konton för olika organisationer. Vill du ändå hålla ett "
        "företags ärenden åtskilda behöver du en annan e-postadress för det, eftersom en "
        "e-postadress är ett konto.",
        "Can I use one login for several organizations?",
        "Yes. One login can act for several organizations. Once you have been invited to "
        "several organizations, you choose at the top of the page which organization you are "
        "acting for.\n\n"
        "So you do not need separate logins for separate organizations. If you still want to "
        "keep one company's matters apart, you need another email address for it, because one "
        "email address is one login.",
    ),
    (
        "Voinko pitää kuluttaja- ja yrityskäytön erillään?",
        "Voit. Kuluttaja- ja yrityskäyttö voivat olla samalla tunnuksella, tai voit pitää ne "
        "erillään kahdella tunnuksella.\n\n"
        "Koska tunnus on sähköpostiosoite, kaksi tunnusta tarvitsee kaksi eri "
        "sähköpostiosoitetta: esimerkiksi henkilökohtaisen osoitteesi omiin lähetyksiisi ja "
        "työosoitteesi yrityksen asioihin.",
        "Kan jag hålla privat bruk och företagsbruk åtskilda?",
        "Ja. Privat bruk och företagsbruk kan ske med samma konto, eller så kan du hålla dem "
        "åtskilda med två konton.\n\n"
        "Eftersom kontot är en e-postadress behöver två konton två olika e-postadresser: till "
        "exempel din privata adress för dina egna försändelser och din jobbadress för "
        "företagets ärenden.",
        "Can I keep consumer and business use apart?",
        "Yes. Consumer and business use can share one login, or you can keep them apart with "
        "two logins.\n\n"
        "Because a login is an email address, two logins need two different email addresses: "
        "for example your personal address for your own shipments and your work address for "
        "your company's matters.",
    ),
    (
        "Mitä teen, kun sähköpostiosoitteeni vaihtuu?",
        "Vaihda osoite itse Omat tiedot -sivulla. Uusi osoite otetaan käyttöön, kun olet "
        "vahvistanut sen siihen lähetetyllä linkillä. Siihen asti kirjaudut vanhalla "
        "osoitteella, ja vanhaan osoitteeseen lähetetään tieto muutoksesta.\n\n"
        "Jos et enää pääse vanhaan sähköpostiisi etkä muista salasanaasi, pyydä apua "
        "organisaatiosi pääkäyttäjältä tai Postin asiakaspalvelusta.",
        "Vad gör jag när min e-postadress ändras?",
        "Byt adressen själv på sidan Mina uppgifter. Den nya adressen tas i bruk när du har "
        "bekräftat den med länken som skickas till den. Fram till dess loggar du in med den "
        "gamla adressen, och den gamla adressen får ett meddelande om ändringen.\n\n"
        "Om du inte längre kommer åt din gamla e-post och inte minns ditt lösenord, be din "
        "organisations huvudanvändare eller Postens kundtjänst om hjälp.",
        "What do I do when my email address changes?",
        "Change the address yourself on the My details page. The new address is taken into use "
        "once you have confirmed it with the link sent to it. Until then you log in with the "
        "old address, and the old address is told about the change.\n\n"
        "If you can no longer read your old email and do not remember your password, ask your "
        "organization's main user or Posti customer service for help.",
    ),
    (
        "Vanha käyttäjätunnukseni ei enää toimi. Mitä teen?",
        "Vanhat palvelukohtaiset käyttäjätunnukset lakkaavat toimimasta, kun palvelu on "
        "siirtynyt uuteen kirjautumiseen. Kirjaudu sähköpostiosoitteellasi.\n\n"
        "Jos et ole vielä asettanut uutta salasanaa tai et muista sitä, valitse "
        "kirjautumissivulla salasanan palautus, niin saat sähköpostiisi linkin uuden salasanan "
        "asettamiseen. Jos osoitteellasi ei löydy tunnusta, pyydä organisaatiosi pääkäyttäjää "
        "kutsumaan sinut tai ota yhteyttä Postin asiakaspalveluun.",
        "Mitt gamla användarnamn fungerar inte längre. Vad gör jag?",
        "De gamla tjänstespecifika användarnamnen slutar fungera när tjänsten har gått över "
        "till den nya inloggningen. Logga in med din e-postadress.\n\n"
        "Om du ännu inte har angett ett nytt lösenord eller inte minns det, välj "
        "återställning av lösenord på inloggningssidan, så får du en länk till din e-post för "
        "att ange ett nytt lösenord. Om det inte finns något konto med din adress, be din "
        "organisations huvudanvändare att bjuda in dig eller kontakta Postens kundtjänst.",
        "My old username no longer works. What do I do?",
        "The old service-specific usernames stop working once the service has moved to the new "
        "login. Log in with your email address.\n\n"
        "If you have not set a new password yet or do not remember it, choose password reset on "
        "the login page and you will get a link by email to set a new password. If there is no "
        "login with your address, ask your organization's main user to invite you or contact "
        "Posti customer service.",
    ),
]


def seed(apps, schema_editor):
    entry = apps.get_model("project", "HelpEntry")
    if entry.objects.exists():
        return
    entry.objects.bulk_create(
        entry(
            position=(n + 1) * 10,
            question_fi=q_fi,
            answer_fi=a_fi,
            question_sv=q_sv,
            answer_sv=a_sv,
            question_en=q_en,
            answer_en=a_en,
        )
        for n, (q_fi, a_fi, q_sv, a_sv, q_en, a_en) in enumerate(ENTRIES)
    )


class Migration(migrations.Migration):
    dependencies = [("project", "0002_help_entry")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
