"""The interface in English and Korean (Flask-Babel): which language a request gets, the header's switch, and
the Jinja helpers that put domain values into words (emotion names, Phrases from insights/ and services/,
dates and numbers in the reader's locale). The API, exports and the database keep English ids."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo
from functools import wraps
from itertools import islice

from babel import Locale, UnknownLocaleError
from babel.lists import format_list
from babel.dates import format_interval, format_skeleton, format_time as format_zone_time, get_timezone_location
from flask import Blueprint, Flask, Response, abort, current_app, has_request_context, jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import format_date, format_decimal, format_percent, format_time, get_locale, gettext
from flask_babel import Domain, lazy_pgettext, ngettext
from flask_login import current_user
from jinja2 import pass_context
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException

import jobs
from extensions import babel, login_manager
from inference.labels import Certainty, DetectionKind, shown_percent
from inference.map_regions import MapRegion
from inference.video_check import CANNOT_OPEN, LIMIT_REASONS, MANY_REFERENCES, RICH_COLOUR, UNSUPPORTED_CODEC
from insights.history import Mood
from messages import N_, Phrase
from models import JobStatus, SubjectKind, utcnow
from services import accounts
from services.clock import in_zone, known_zone, zone_of, zones_by_country
from services.explanations import FAILURE_REASONS, METHOD_TITLES
from web.errors import wants_json
from web.redirects import back_to_form_next, form_page, start_page

LOCALES = ("en", "ko")
LANGUAGE_NAMES = {"en": "English", "ko": "한국어"}  # each in its own language, as the switch shows it
COOKIE = "moodlens_locale"
REGION_TAGS = 10  # browsers send a handful of languages; english_region reads no more than this
COOKIE_SECONDS = 365 * 24 * 3600

EMOTION_NAMES = {
    "angry": lazy_pgettext("emotion", "angry"), "disgust": lazy_pgettext("emotion", "disgust"),
    "fear": lazy_pgettext("emotion", "fear"), "happy": lazy_pgettext("emotion", "happy"),
    "sad": lazy_pgettext("emotion", "sad"), "surprise": lazy_pgettext("emotion", "surprise"),
    "neutral": lazy_pgettext("emotion", "neutral"), "relaxed": lazy_pgettext("emotion", "relaxed"),
    "other": lazy_pgettext("emotion", "other"),  # a cat's label for none of its model's three
}
ADJECTIVE_NAMES = {
    "angry": lazy_pgettext("adjective", "angry"), "disgust": lazy_pgettext("adjective", "disgusted"),
    "fear": lazy_pgettext("adjective", "fearful"), "happy": lazy_pgettext("adjective", "happy"),
    "sad": lazy_pgettext("adjective", "sad"), "surprise": lazy_pgettext("adjective", "surprised"),
    "neutral": lazy_pgettext("adjective", "neutral"), "relaxed": lazy_pgettext("adjective", "relaxed"),
    "other": lazy_pgettext("adjective", "in another mood"),
}
MOOD_NAMES = {  # an emotion in a mix's description: "mostly surprised, some sad" (a noun in Korean: "대체로 놀람")
    "angry": lazy_pgettext("mood", "angry"), "disgust": lazy_pgettext("mood", "disgusted"),
    "fear": lazy_pgettext("mood", "fearful"), "happy": lazy_pgettext("mood", "happy"),
    "sad": lazy_pgettext("mood", "sad"), "surprise": lazy_pgettext("mood", "surprised"),
    "neutral": lazy_pgettext("mood", "neutral"), "relaxed": lazy_pgettext("mood", "relaxed"),
    "other": lazy_pgettext("mood", "something else"),
}
# Where a "Why?" map is brightest: a face's part, or a ninth of a pet's crop.
REGION_NAMES = {
    MapRegion.FOREHEAD: lazy_pgettext("map region", "the forehead"),
    MapRegion.BROWS: lazy_pgettext("map region", "the brows"), MapRegion.EYES: lazy_pgettext("map region", "the eyes"),
    MapRegion.NOSE: lazy_pgettext("map region", "the nose"), MapRegion.MOUTH: lazy_pgettext("map region", "the mouth"),
    MapRegion.CHEEKS: lazy_pgettext("map region", "the cheeks"),
    MapRegion.CHIN: lazy_pgettext("map region", "the chin"),
    MapRegion.UPPER_LEFT: lazy_pgettext("map region", "the upper left"),
    MapRegion.TOP: lazy_pgettext("map region", "the top"),
    MapRegion.UPPER_RIGHT: lazy_pgettext("map region", "the upper right"),
    MapRegion.LEFT: lazy_pgettext("map region", "the left side"),
    MapRegion.MIDDLE: lazy_pgettext("map region", "the middle"),
    MapRegion.RIGHT: lazy_pgettext("map region", "the right side"),
    MapRegion.LOWER_LEFT: lazy_pgettext("map region", "the lower left"),
    MapRegion.BOTTOM: lazy_pgettext("map region", "the bottom"),
    MapRegion.LOWER_RIGHT: lazy_pgettext("map region", "the lower right"),
}
GROUP_NAMES = {"night": lazy_pgettext("time", "night"), "morning": lazy_pgettext("time", "morning"),
               "afternoon": lazy_pgettext("time", "afternoon"), "evening": lazy_pgettext("time", "evening"),
               "weekday": lazy_pgettext("time", "weekday"), "weekend": lazy_pgettext("time", "weekend")}
KIND_NAMES = {SubjectKind.PERSON: lazy_pgettext("kind", "person"), SubjectKind.DOG: lazy_pgettext("kind", "dog"),
              SubjectKind.CAT: lazy_pgettext("kind", "cat"), DetectionKind.HUMAN: lazy_pgettext("kind", "person")}

bp = Blueprint("i18n", __name__)

# Korean particles that depend on whether the word before ends in a consonant (받침). The catalogue writes them
# in the paired form ("%(name)s이(가)"); once the word is in, `particles` picks one: (after a final consonant,
# after a vowel, after a final ㄹ).
PARTICLES = {"이(가)": ("이", "가", "이"), "을(를)": ("을", "를", "을"), "은(는)": ("은", "는", "은"),
             "와(과)": ("과", "와", "과"), "(으)로": ("으로", "로", "로"), "(이)라": ("이라", "라", "이라")}
# a word, then closing tags or quotes, then perhaps a parenthesis ("표준시 (서울)"), then a paired particle: the
# particle goes with the word before the parenthesis, as Korean writing has it ("인터넷(Internet)을")
PAIRED = re.compile(r"(?<![)0-9A-Za-z\uac00-\ud7a3])([0-9A-Za-z\uac00-\ud7a3]+)"
                    r"((?:<[^>]*>|[”’\"'\u2069])*(?: ?\([^()<>]*\))?)(" + "|".join(map(re.escape, PARTICLES)) + ")")
# digits read 영 일 이 삼 사 오 육 칠 팔 구
DIGIT_ENDINGS = {"0": "final", "1": "rieul", "3": "final", "6": "final", "7": "rieul", "8": "rieul"}
RIEUL = 8  # ㄹ's index among a syllable's final consonants
# Latin letters' Korean names that end in a consonant (엘, 알; 엠, 엔); the others end in a vowel (피, 지, 에스)
LETTER_ENDINGS = {"l": "rieul", "r": "rieul", "m": "final", "n": "final"}


def _ending(word: str) -> str | None:
    """How `word` ends when read in Korean: "final" (a final consonant), "rieul" (a final ㄹ), "vowel", or None
    when it cannot tell. A Latin word by a rough reading of its last letters (Tom, Jack, Paul; Rex, Mia, Peter)."""
    last = word[-1]
    if "\uac00" <= last <= "\ud7a3":
        final = (ord(last) - 0xAC00) % 28
        return "vowel" if final == 0 else "rieul" if final == RIEUL else "final"
    if last.isdigit():
        return DIGIT_ENDINGS.get(last, "vowel")
    lower = word.lower()
    if len(lower) > 1 and lower.isascii() and lower.isalpha() and not re.search("[aeiouy]", lower):
        return LETTER_ENDINGS.get(lower[-1], "vowel")  # no vowel: read by letters (png: 피엔지)
    if lower.endswith(("l", "le")):  # Paul, Belle
        return "rieul"
    if lower.endswith("e"):  # silent (Jane, Apple) or not (Zoe): cannot tell
        return None
    if lower.endswith(("m", "n", "ng", "ck")) or re.search(r"[aeiou][bpt]$", lower):
        return "final"
    return "vowel" if lower[-1] in "aeiouyrsxdgfhkvwz" else None


def particles(text: str) -> str:
    """`text` with each paired Korean particle after a word ("Rex이(가)", "개을(를)", "</strong>은(는)" after a
    word in bold, "”은(는)" after a quoted one, "(서울)(으)로" after a word and its parenthesis) written as the one
    its word takes ("Rex가", "개를"); kept paired when the word cannot tell.
    A placeholder not yet filled in ("%(name)s을(를)", for a page's script) is left as it is."""
    def pick(match: re.Match) -> str:
        ending = _ending(match[1])
        if ending is None:
            return match[0]
        after_final, after_vowel, after_rieul = PARTICLES[match[3]]
        chosen = {"final": after_final, "vowel": after_vowel, "rieul": after_rieul}[ending]
        return match[1] + match[2] + chosen
    return PAIRED.sub(pick, text)


def _keeping_markup(text: str, fixed: str) -> str:
    return Markup(fixed) if isinstance(text, Markup) else fixed


def korean_particles(text: str) -> str:
    """`particles(text)` for a Korean reader; other readers' text as it is (a name may hold "을(를)" itself)."""
    return particles(text) if str(get_locale()) == "ko" else text


class ParticleDomain(Domain):
    """Flask-Babel's domain whose Korean translations, once their values are in, take the right particles."""

    def gettext(self, string: str, **variables: object) -> str:
        return korean_particles(super().gettext(string, **variables)) if variables else super().gettext(string)

    def ngettext(self, singular: str, plural: str, num: int, **variables: object) -> str:
        return korean_particles(super().ngettext(singular, plural, num, **variables))

    def pgettext(self, context: str, string: str, **variables: object) -> str:
        return korean_particles(super().pgettext(context, string, **variables)) if variables else \
            super().pgettext(context, string)


def _with_particles(translate: Callable) -> Callable:
    """A template's gettext-like global (Jinja fills the values in itself) whose result takes the right particles."""
    @pass_context
    def translated(context, *args, **kwargs):
        text = context.call(translate, *args, **kwargs)
        return _keeping_markup(text, korean_particles(text))
    return translated


def select_locale() -> str:
    """The interface language (`chosen_language`), in the browser's region of it where it names one for English
    ("en_GB": a British browser reads 3 December 2026, not December 3, 2026); Korean is always ko."""
    if not has_request_context() or wants_json():  # jobs, the CLI, the API and bearer tokens: English (README)
        return "en"
    language = chosen_language()
    return (english_region() or language) if language == "en" else language


def chosen_language() -> str:
    """A logged-in user's saved choice, else this browser's cookie, else the best of Accept-Language, else en."""
    if current_user and current_user.is_authenticated and current_user.locale in LOCALES:
        return current_user.locale
    cookie = request.cookies.get(COOKIE)
    if cookie in LOCALES:
        return cookie
    return request.accept_languages.best_match(LOCALES) or "en"


def english_region() -> str | None:
    """The first English with a region in the browser's Accept-Language that Babel knows ("en_GB"), if any; none
    for American English, which plain "en" already is, and none in another alphabet ("en-Shaw-GB": the pages and
    the report's fonts are in Latin letters). Only the browser's REGION_TAGS most preferred languages are
    read: a header of thousands (repeated header lines are joined into one) would cost a Babel look-up each."""
    for tag, _quality in islice(request.accept_languages, REGION_TAGS):
        try:
            locale = Locale.parse(tag, sep="-")
        except (ValueError, UnknownLocaleError):
            continue
        if (locale.language == "en" and locale.territory and not locale.script  # Latin letters: not Shavian's
                and tag.upper().endswith("-" + locale.territory)):
            return None if locale.territory == "US" else str(locale)  # the region the browser named (Babel turns
            # an unknown one into a likely one)
    return None


@bp.route("/language", methods=["GET", "POST"])
@form_page(start_page)
def switch() -> ResponseReturnValue:
    """Choose the interface language (form field `locale`), remembered in a cookie and on the user's account;
    back to the same-site `next`."""
    locale = request.form.get("locale")
    if locale not in LOCALES:
        abort(400, description=gettext("Choose English or Korean."))
    if current_user.is_authenticated:
        accounts.save_settings(current_user, locale=locale)
    response = back_to_form_next()
    _remember_language(response, locale)
    return response


def switched_language() -> str | None:
    """The language of this browser's cookie, if any, for an account made from it (the pages of the sign-up were in
    it), so that it follows the user to every browser. Not adopted at a log-in: the cookie may be another account's
    (`_keep_the_accounts_language` writes it on a shared browser)."""
    locale = request.cookies.get(COOKIE)
    return locale if locale in LOCALES else None


def _remember_language(response: Response, locale: str) -> None:
    response.set_cookie(COOKIE, locale, max_age=COOKIE_SECONDS, samesite="Lax", httponly=True,
                        secure=current_app.config["PRODUCTION"])


def _keep_the_accounts_language(response: Response) -> Response:
    """A page for a logged-in user whose account has a language also puts it in this browser's cookie, so the pages
    after logging out ("You are logged out.", "Your account … deleted.") stay in it: a browser that never used the
    switch went back to English."""
    if response.mimetype == "text/html" and current_user and current_user.is_authenticated:
        locale = current_user.locale
        if locale in LOCALES and request.cookies.get(COOKIE) != locale:
            _remember_language(response, locale)
    return response


def emotion(label: str | None) -> str:
    """An emotion id ("sad") in the reader's language."""
    return str(EMOTION_NAMES.get(label, label)) if label else ""


def worded(label: str, certainty: str | None) -> str:
    """A reading in the cards' words, by its Certainty: "unsure, perhaps happy", "probably happy" or "happy"."""
    if certainty == Certainty.UNSURE:
        return gettext("unsure, perhaps %(emotion)s", emotion=emotion(label))
    if certainty == Certainty.PROBABLY:
        return gettext("probably %(emotion)s", emotion=emotion(label))
    return emotion(label)


def emotions_listed(labels: list[str]) -> str:
    """Emotions' names as a list in the reader's language: "happy and sad", "angry, happy and sad"."""
    return listed([emotion(label) for label in labels])


def regions_listed(regions: list[str] | None) -> str:
    """Where a map is brightest, as a list in the reader's language ("the eyes and the mouth"); empty without it."""
    return listed([str(REGION_NAMES[region]) for region in regions or () if region in REGION_NAMES])


LIST_JOINERS = {"ko": "·"}  # CLDR's Korean list says "A 및 B", written style beside the pages' friendly 해요체


def listed(words: list[str]) -> str:
    """Words as a list in the reader's language: "happy and sad", "행복·슬픔"."""
    locale = get_locale()
    joiner = LIST_JOINERS.get(locale.language if locale else "en")
    return joiner.join(words) if joiner else format_list(words, locale=locale)


NAMED_AT_MOST = 5  # names given in one message (rows of the back office, removed uploads); more are counted
NAMES_JOINERS = {"ko": ", "}  # a semicolon is foreign to Korean; in English it keeps names that hold commas apart


def named_at_most(rows: list[str]) -> str:
    """Rows (of the back office, a user's removed uploads) named, NAMED_AT_MOST at most and the rest counted: "a.jpg;
    b.jpg; ... and 3 more", "a.jpg, b.jpg ... 외 3개"."""
    locale = get_locale()
    named = NAMES_JOINERS.get(locale.language if locale else "en", "; ").join(rows[:NAMED_AT_MOST])
    more = len(rows) - NAMED_AT_MOST
    return gettext("%(names)s and %(num)d more", names=named, num=more) if more > 0 else named


def region_words() -> dict[str, str]:
    """Each map region's words in the reader's language, for the "Why?" script."""
    return {region: str(name) for region, name in REGION_NAMES.items()}


def adjective(label: str) -> str:
    """How someone looks with an emotion ("sad", "surprised") in the reader's language."""
    return str(ADJECTIVE_NAMES.get(label, label))


def kind(name: str) -> str:
    """A subject's or a detection's kind ("dog") in the reader's language."""
    return str(KIND_NAMES.get(name, name))


def group(name: str) -> str:
    """A time-of-day or weekday/weekend group of insights/patterns.py in the reader's language."""
    return str(GROUP_NAMES.get(name, name))


def say(text: object) -> str:
    """A Phrase in the reader's language (its emotion ids and inner Phrases too); other text as it is."""
    if not isinstance(text, Phrase):
        return "" if text is None else str(text)
    return gettext(text.msgid, **{name: _word(value) for name, value in text.params.items()})


PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[sdif]")  # "%(limit).0f" in a message id


def _as_stored(msgid: str) -> re.Pattern:
    """The English text `msgid % figures` as a pattern that captures each figure by its name."""
    parts = PLACEHOLDER.split(msgid)  # text, name, text, name, ..., text
    return re.compile("".join(f"(?P<{part}>.+?)" if index % 2 else re.escape(part) for index, part in enumerate(parts)))


FIGURED_REASONS = [(_as_stored(msgid), msgid)  # failures with figures
                   for msgid in (jobs.INTERRUPTED, jobs.TOO_LONG, jobs.TOO_LONG_SECONDS, *LIMIT_REASONS,
                                 CANNOT_OPEN, RICH_COLOUR, MANY_REFERENCES, UNSUPPORTED_CODEC)]
# Reasons that versions before 2026-12-01 (f2dc821) stored in other words, read as the message that says the same now.
EARLIER_WORDS = [(_as_stored("The analysis was interrupted %(times)d times and was given up."), jobs.INTERRUPTED)]


SERVERS_FAILURES = tuple(_as_stored(msgid) for msgid in (jobs.INTERRUPTED, jobs.TOO_LONG, jobs.TOO_LONG_SECONDS,
                                                         jobs.TOO_LONG_ONE_MINUTE, jobs.INTERNAL_ERROR,
                                                         jobs.STORAGE_FULL)) + tuple(old for old, _ in EARLIER_WORDS)


def servers_failure(text: str | None) -> bool:
    """Whether a failed job's stored reason is the server's to judge (its workers stopped, its time limit ran out,
    an internal error, a disk full), not a refusal of the file: an administrator can have it run again."""
    return bool(text) and any(failure.fullmatch(text) for failure in SERVERS_FAILURES)


def reason(text: str | None) -> str:
    """A failure reason a job stored as English text (an analysis's or an explanation's `error`) in the reader's
    language: as it is when the catalogue holds it, else a reason with figures ("interrupted 3 times") read back
    into its message id and translated with the stored figures."""
    if not text:
        return ""
    for stored, msgid in FIGURED_REASONS + EARLIER_WORDS:
        if figures := stored.fullmatch(text):
            return PLACEHOLDER.sub(lambda placeholder: figures[placeholder[1]], gettext(msgid))
    return gettext(text)


def explanation_failures() -> dict[str, str]:
    """A failed explanation's stored reasons (English, as the API gives them: the fixed ones, and the time limit's
    with this server's limit) in the reader's language, for the page's script (static/explain.js)."""
    stopped = jobs.timed_out(current_app.config["JOBS_TIMEOUT_SECONDS"])
    return {text: reason(text) for text in (*FAILURE_REASONS, stopped)}


def _word(value: object) -> object:
    if isinstance(value, Phrase):
        return say(value)
    if isinstance(value, Mood):
        return str(MOOD_NAMES.get(value.emotion, value))
    if isinstance(value, str) and value in EMOTION_NAMES:
        return emotion(value)
    if isinstance(value, str) and value in KIND_NAMES:
        return kind(value)
    return set_apart(value) if isinstance(value, str) else value  # a name from services ("No subject محمد.")


def found(kinds: list[str]) -> str:
    """"2 faces, 1 dog" for the kinds of an analysis's detections; "nothing found" without any."""
    return ", ".join(words for _, words in found_by_kind(kinds)) or gettext("nothing found")


def found_by_kind(kinds: list[str]) -> list[tuple[str, str]]:
    """Each kind among an analysis's detections' kinds with its count in words: (human, "2 faces"), (dog, "1
    dog"); faces first, then dogs, then cats."""
    words = {DetectionKind.HUMAN: lambda n: ngettext("%(num)d face", "%(num)d faces", n),
             DetectionKind.DOG: lambda n: ngettext("%(num)d dog", "%(num)d dogs", n),
             DetectionKind.CAT: lambda n: ngettext("%(num)d cat", "%(num)d cats", n)}
    return [(name, say_count(kinds.count(name))) for name, say_count in words.items() if name in kinds]


def select_time_zone() -> str:
    """The logged-in reader's time zone (services/clock.py); UTC for others, jobs and the CLI."""
    if has_request_context() and current_user and current_user.is_authenticated:
        return zone_of(current_user).key
    return "UTC"


def moment(value: datetime, date_length: str = "long") -> str:
    """A stored UTC time on the reader's clock, as the reader writes it: "December 1, 2026, 3:35 PM",
    "2026년 12월 1일 오후 3:35" (date_length "medium": "Dec 1, 2026, 3:35 PM", "2026. 12. 1. 오후 3:35"); marked UTC
    when the reader's time zone is not known ("..., 3:35 PM UTC"), and with the zone's name in the hour its clock
    shows twice ("..., 2:30 AM CEST"). AM/PM follows a plain space (CLDR's narrow one is
    missing from the back office's font)."""
    when = {"date": format_date(value, date_length), "time": format_time(value, "short").replace("\u202f", " ")}
    zone = select_time_zone()
    if zone == "UTC":
        return gettext("%(date)s, %(time)s UTC", **when)
    if (named := repeated_hour(value, ZoneInfo(zone))) is not None:
        return gettext("%(date)s, %(time)s %(zone)s", zone=named, **when)
    return gettext("%(date)s, %(time)s", **when)


def repeated_hour(value: datetime, zone: ZoneInfo) -> str | None:
    """The zone's name for the moment (CEST, CET) where the clock shows its time twice (the hour repeated when
    summer time ends: 2:30 AM, then 2:30 AM again an hour later); None elsewhere."""
    local = in_zone(value, zone)
    return local.tzname() if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset() else None


def clock_name() -> str:
    """The reader's time zone in words (`zone_name`)."""
    return zone_name(select_time_zone())


def zone_name(key: str) -> str:
    """A time zone in words in the reader's language, whatever the season: "Eastern Time", "한국 시간" (the readings
    it names fell in summer and winter alike). A zone that keeps one offset all year is named by it ("Coordinated
    Universal Time", "GMT-12:00"), and so is one CLDR has no generic name for: its fallback ("Unknown Region (GMT)
    Time", "world (EST5EDT) Time") puts the zone's id in brackets."""
    now, zone, locale = utcnow(), ZoneInfo(key), get_locale() or "en"
    generic = format_zone_time(now, "vvvv", tzinfo=zone, locale=locale)
    if _keeps_one_offset(zone, now.year) or "(" in generic:
        return format_zone_time(now, "zzzz", tzinfo=zone, locale=locale)
    return generic


def zone_with_city(key: str) -> str:
    """A zone named as `zone_name` names it, with its city in the reader's language: "Eastern Time (New York)",
    "미 동부 시간 (뉴욕)"; a zone of no city ("UTC", "Etc/GMT+12") by its name alone."""
    if "/" not in key or key.startswith("Etc/"):
        return zone_name(key)
    return gettext("%(zone)s (%(city)s)", zone=zone_name(key), city=_city(key))


def _city(key: str) -> str:
    """A zone's city in the reader's language ("New York", "서울")."""
    return get_timezone_location(ZoneInfo(key), locale=get_locale() or "en", return_city=True)


ZoneChoices = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  # (country, ((zone id, its words), ...)), ...


@functools.lru_cache(maxsize=8)
def _zone_choices(locale: str) -> ZoneChoices:
    """`zones_by_country` in the reader's language (`city_and_zone`), countries and cities in their alphabetical
    order (about 90 ms of naming a language: kept)."""
    countries = Locale.parse(locale).territories
    return tuple(sorted(
        ((countries.get(code, code), tuple(sorted(((zone, city_and_zone(zone)) for zone in zones),
                                                  key=lambda choice: choice[1])))
         for code, zones in zones_by_country().items()),
        key=lambda group: group[0]))


def city_and_zone(key: str) -> str:
    """A zone of the offer in words, its city first (a select finds an option by the letters typed): "New York
    (Eastern Time)", "서울 (한국 표준시)". The city alone left a person in the United States or Russia to know which
    city keeps their clock."""
    return gettext("%(city)s (%(zone)s)", city=_city(key), zone=zone_name(key))


def zone_choices() -> ZoneChoices:
    """The time zones the account page offers, by country, each named by its city and its zone in the reader's
    language ("대한민국": "서울 (한국 표준시)")."""
    return _zone_choices(str(get_locale() or "en"))


@bp.get("/time-zone/name")
def time_zone_name() -> Response:
    """`?zone=America/New_York` in words, as the pages name the reader's zone (`zone_with_city`): the name of this
    device's zone in the time-zone offer (static/time-zone.js). 400 for a zone this server does not know."""
    zone = known_zone(request.args.get("zone"))
    if zone is None:
        abort(400, description=gettext("This server does not know this time zone."))
    return jsonify(zone=zone, name=zone_with_city(zone))


def _keeps_one_offset(zone: ZoneInfo, year: int) -> bool:
    return len({datetime(year, month, 1, tzinfo=zone).utcoffset() for month in (1, 4, 7, 10)}) == 1


def day(value: date | datetime | str) -> str:
    """A day (a date, or ISO text from insights/) in the reader's long format: "2026년 12월 1일"."""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return format_date(value, "long")


def skeleton(value: date, pattern: str) -> str:
    """A date in a CLDR skeleton ("MMMd": "Dec 1", "12월 1일"; "MMM"; "EEE": "Mon", "월") of the reader's locale."""
    return format_skeleton(pattern, value, locale=get_locale() or "en")


def month_name(first: date) -> str:
    """A month and its year in the reader's locale: "September 2026", "2026년 9월"."""
    return skeleton(first, "yMMMM")


def days_span(start: date | str, end: date | str) -> str:
    """Two days (dates, or ISO text from insights/) as one span in the reader's locale, the month once where they
    share it and no year: "Jan 5 – 11", "12월 29일~1월 4일" (a week named beside the dates of the week it is near)."""
    first, last = (date.fromisoformat(value[:10]) if isinstance(value, str) else value for value in (start, end))
    return format_interval(first, last, "MMMd", locale=get_locale() or "en")


def percent(value: float) -> str:
    """0.42 as "42%" in the reader's locale."""
    return format_percent(value or 0.0)


def share(value: float) -> str:
    """A share of time or readings as a whole percent, "<1%" for one above nothing that shows as 0%: a table's
    "relaxed 0%" read as never relaxed."""
    return f"<{percent(0.01)}" if value > 0 and shown_percent(value) == 0 else percent(value)


def against(value: float, threshold: float) -> str:
    """A share said beside the threshold it is compared with: with as many decimals as tell them apart where the
    whole percents are the same ("33.3%" above a rule's 33%, "33.01%" above it; "33%" above "33%" read as a mistake).
    Shares are kept to four decimals, so two decimals of a percent always do."""
    if shown_percent(value) != shown_percent(threshold) or value == threshold:
        return percent(value)
    one, two = (format_percent(value, pattern) for pattern in ("#,##0.0%", "#,##0.00%"))
    return one if one != format_percent(threshold, "#,##0.0%") else two


def points(value: float, change: float) -> int:
    """The change from the week before, in points, as the whole percents shown differ (51% against 30% is +21, not
    the +22 of 0.514 - 0.296)."""
    return shown_percent(value) - shown_percent(value - change)


def interval(low: float, high: float) -> str:
    """A confidence interval as "3%–5%" in the reader's locale; one figure, "3%", when both ends show as the same
    percent (the value between them does too): "3%–3%" says nothing more and looks like a mistake."""
    low_text, high_text = percent(low), percent(high)
    return low_text if low_text == high_text else f"{low_text}–{high_text}"


def seconds(value: float) -> str:
    """A duration or a moment as "5.3 s" / "5.3초", to the hundredth where it has one (at 4 frames a second a frame
    is at 0.25 s, not "0.2 s")."""
    return gettext("%(seconds)s s", seconds=format_decimal(value or 0.0, "0.0#"))


def time_seen(summary: dict) -> str:
    """How long a video track was seen, as its card says it: "seen for 5.25 s", or "seen in one frame" for a track
    in a single analysed frame (a lone frame stands for no time: "seen for 0.0 s" read as an error)."""
    if summary.get("frames") == 1:
        return gettext("seen in one frame")
    return gettext("seen for %(time)s", time=seconds(summary.get("duration")))


STATUS_NAMES = {JobStatus.QUEUED: lazy_pgettext("status", "queued"),
                JobStatus.RUNNING: lazy_pgettext("status", "running"),
                JobStatus.DONE: lazy_pgettext("status", "done"), JobStatus.FAILED: lazy_pgettext("status", "failed")}
LOGIN_MESSAGE = N_("Please log in to access this page.")


def day_in_week(value: date | str) -> str:
    """A day of a week whose dates, years included, are given beside it: its weekday, day and month in the reader's
    locale, without the year: "Mon, Nov 30", "Mon 30 Nov" (en-GB), "11월 30일 (월)"."""
    return skeleton(date.fromisoformat(value[:10]) if isinstance(value, str) else value, "MMMEd")


def error_title(error: HTTPException) -> str:
    """An error page's heading: werkzeug's name of the status, translated when the catalogue has it."""
    return gettext(error.name)


def error_description(error: HTTPException) -> str:
    """An error page's text: a Phrase or a marked message (web/errors.py ERROR_WORDS) translated; other text as
    it is."""
    return say(error.description) if isinstance(error.description, Phrase) else gettext(str(error.description))


def _vary_by_language(response: Response) -> Response:
    """Pages are in the language the request asked for (Accept-Language, else the cookie): caches must not hand
    one reader's language to another."""
    if response.mimetype == "text/html":
        response.vary.add("Accept-Language")
    return response


def _emotion_names() -> dict:
    return {"emotion_names": {label: str(name) for label, name in EMOTION_NAMES.items()}}


def per_request(function: Callable) -> Callable:
    """`function` as a Jinja filter that runs at each rendering: Jinja would otherwise fold a filter on a constant
    (`0 | seconds`) into the compiled template, in the language of the request that compiled it."""
    @pass_context
    @wraps(function)
    def filter_now(_context, *args, **kwargs):
        return function(*args, **kwargs)
    return filter_now


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_time_zone)
    babel.domain_instance = ParticleDomain()  # Python's gettext (views, `say`) with the right Korean particles
    for name in ("gettext", "ngettext", "pgettext", "npgettext"):  # and the templates'
        app.jinja_env.globals[name] = _with_particles(app.jinja_env.globals[name])
    login_manager.login_message = LOGIN_MESSAGE
    login_manager.localize_callback = gettext
    app.context_processor(_emotion_names)
    app.after_request(_vary_by_language)
    app.after_request(_keep_the_accounts_language)
    app.add_template_global(STATUS_NAMES, "status_names")
    app.add_template_global(error_title)
    app.add_template_global(error_description)
    app.add_template_global(explanation_failures)
    app.add_template_global(servers_failure)
    app.add_template_global(clock_name)
    app.add_template_global(worded)
    app.register_blueprint(bp)
    app.add_template_global(get_locale)
    app.add_template_global(LOCALES, "LOCALES")
    app.add_template_global(LANGUAGE_NAMES, "LANGUAGE_NAMES")
    app.add_template_global(METHOD_TITLES, "METHOD_TITLES")
    app.add_template_global(region_words)
    for name, function in {"emotion": emotion, "emotions_listed": emotions_listed, "adjective": adjective,
                           "regions_listed": regions_listed,
                           "kind": kind, "say": say, "found": found,
                           "found_by_kind": found_by_kind,
                           "moment": moment, "day": day, "days_span": days_span, "percent": percent, "share": share,
                           "against": against, "points": points,
                           "interval": interval, "seconds": seconds, "time_seen": time_seen, "number": format_decimal,
                           "day_in_week": day_in_week, "group": group, "reason": reason,
                           "wrappable": wrappable, "set_apart": set_apart, "month_name": month_name}.items():
        app.add_template_filter(per_request(function), name)


def isolated(name: str) -> str:
    """The name between a first-strong isolate and its end (the <bdi> of text the script draws): a right-to-left
    name does not turn the words around it."""
    return f"\u2068{name}\u2069"


def set_apart(name: str) -> str:
    """A name written into a sentence: `isolated` when it holds right-to-left letters (Arabic, Hebrew: a Korean
    heading "محمد: 2026년 12월 7일 주간" was drawn "2026 :محمد년 12월 7일 주간"), else as it is."""
    return isolated(name) if any(unicodedata.bidirectional(char) in ("R", "AL") for char in name) else name


NAME_BREAKS = re.compile(r"(?<=_)|(?<=\.)(?=.*\.)")  # after each underscore, after a dot but the extension's


def wrappable(name: str) -> Markup:
    """A file name, escaped, that may wrap between its parts ("scottish_terrier_" / "10.jpg"), not inside a word;
    a browser already breaks after a hyphen or a space."""
    return Markup("<wbr>").join(escape(part) for part in NAME_BREAKS.split(name))


def shortened(text: str, limit: int) -> str:
    """`text`, or its first characters and an ellipsis, `limit` at most, never cut inside what one sees as one
    character (an accent, an emoji's joiner, skin tone or variation, a flag's second letter stay with it)."""
    if len(text) <= limit:
        return text
    cut = limit - 1
    while cut > 0 and joins_previous(text, cut):
        cut -= 1
    return text[:cut].rstrip() + "\u2026"


JOINER = "\u200d"
REGIONAL = range(0x1F1E6, 0x1F200)  # two regional indicators make a flag
REGIONAL_LETTERS = "".join(map(chr, REGIONAL))
MODIFIERS = (range(0xFE00, 0xFE10), range(0x1F3FB, 0x1F400), range(0xE0020, 0xE0080))  # variation, skin, tag


def joins_previous(text: str, index: int) -> bool:
    """Whether text[index] is drawn as part of the character before it."""
    char, before = text[index], text[index - 1]
    if unicodedata.category(char).startswith("M") or JOINER in (char, before):
        return True
    if any(ord(char) in block for block in MODIFIERS):
        return True
    if ord(char) not in REGIONAL:
        return False
    letters_before = index - len(text[:index].rstrip(REGIONAL_LETTERS))
    return letters_before % 2 == 1  # the second letter of a flag
