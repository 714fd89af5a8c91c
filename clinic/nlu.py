"""Small, deterministic language understanding for the clinic assistant.

Plain functions over (possibly imperfect) speech-to-text output: days, parts of the day, clock
times, choices among offered options, yes/no, provider names (fuzzy), specialties and the
caller's intent. Also the spoken-style formatting helpers shared by the tools and the brain.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_ALIASES = {
    **{d: i for i, d in enumerate(WEEKDAYS)},
    "mon": 0,
    "tue": 1,
    "tues": 1,
    "wed": 2,
    "weds": 2,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "fri": 4,
}
_MONTHS = {
    "january": 1,
    "jan": 1,
    "february": 2,
    "feb": 2,
    "march": 3,
    "mar": 3,
    "april": 4,
    "apr": 4,
    "may": 5,
    "june": 6,
    "jun": 6,
    "july": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sept": 9,
    "sep": 9,
    "october": 10,
    "oct": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
    "dec": 12,
}
_MONTH_NAMES = (
    "January February March April May June July August September October November December"
).split()
_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
_MINUTE_WORDS = {"o'clock": 0, "oclock": 0, "fifteen": 15, "thirty": 30, "forty-five": 45}
_ORDINAL_WORDS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
    "twentieth": 20,
    "thirtieth": 30,
}
_TITLE_RE = re.compile(r"^(?:doctor|dr|doc)\b\.?\s*", re.IGNORECASE)

# Words that are never a provider's name (for fuzzy matching of free speech).
_STOPWORDS = frozenset(
    """
    a an the i i'd i'm id im me my mine we our you your he she they them it it's its this that
    these those to of for on at in into by with from about as and or but not no yes yeah yep
    sure ok okay please thanks thank hi hello hey bye good morning afternoon evening day days
    today tomorrow week next this last first second third one two three four five six seven
    eight nine ten eleven twelve am pm like would want need see book booking appointment
    appointments schedule make set up get can could will would should may might do does did
    doctor doctors dr provider providers specialist someone somebody anyone anybody any some
    visit check checkup time times slot slots open available earliest latest soon possible
    is are was were be been have has had there here what which who when where how why
    cancel cancelled reschedule move change actually instead rather then also just only
    monday tuesday wednesday thursday friday saturday sunday noon o'clock oclock thirty
    fifteen half past quarter around about after before early late later earlier other
    another else more less dermatologist cardiologist new patient name called named
    """.split()
)


class Intent(StrEnum):
    """What the caller wants, independent of the dialogue state."""

    BOOK = "book"
    CANCEL = "cancel"
    RESCHEDULE = "reschedule"
    LIST_APPOINTMENTS = "list_appointments"
    FIND_PROVIDERS = "find_providers"
    GREETING = "greeting"
    THANKS = "thanks"
    GOODBYE = "goodbye"
    HELP = "help"
    NONE = "none"


@dataclass(frozen=True)
class ProviderMatch:
    """Result of matching a provider name in free text.

    Attributes:
        name: The provider (as spelled in the directory) when the match is confident.
        suggestions: Close names when the match is not confident (best first).
        heard: The name-like word the caller used ("Zzyzx") when no confident match was found.
    """

    name: str | None = None
    suggestions: tuple[str, ...] = field(default_factory=tuple)
    heard: str | None = None


# --- normalization -------------------------------------------------------------------------------


def normalize(text: str) -> str:
    """Lowercase STT text, unify "Dr."/"a.m." spellings, drop punctuation, collapse spaces."""
    t = str(text).lower().replace("’", "'").replace("‘", "'")
    t = re.sub(r"\b([ap])\.\s?m\b\.?", r"\1m", t)
    t = re.sub(r"\b(\d{1,2})\.(\d{2})\b", r"\1:\2", t)  # "10.30" -> "10:30"
    t = re.sub(r"\bdr\b\.?", "doctor ", t)
    t = re.sub(r"[^a-z0-9:'\- ]+", " ", t)
    t = re.sub(r"(?<!\d):|:(?!\d)", " ", t)
    t = re.sub(r"(?<![a-z0-9])[-']|[-'](?![a-z0-9])", " ", t)
    return re.sub(r"\s+", " ", t).strip()


def provider_key(name: str) -> str:
    """Comparison key of a provider name: no title, no punctuation, no spaces, lowercase."""
    t = _TITLE_RE.sub("", str(name).strip())
    t = re.sub(r"^(?:doctor|dr|doc)\b\.?\s*", "", t.lower().strip())
    return re.sub(r"[^a-z0-9]", "", t)


# --- days and times -----------------------------------------------------------------------------


def _ordinal_suffix(n: int) -> str:
    if 11 <= n % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def format_day(d: date) -> str:
    """Spoken date: "Tuesday, December 2nd"."""
    weekday = WEEKDAYS[d.weekday()].capitalize()
    return f"{weekday}, {_MONTH_NAMES[d.month - 1]} {d.day}{_ordinal_suffix(d.day)}"


def format_time(t: time | datetime) -> str:
    """Spoken time: "10:30 AM", "9 AM", "12 PM"."""
    hour12 = t.hour % 12 or 12
    suffix = "AM" if t.hour < 12 else "PM"
    return f"{hour12} {suffix}" if t.minute == 0 else f"{hour12}:{t.minute:02d} {suffix}"


def format_when(moment: datetime) -> str:
    """Spoken date and time: "Tuesday, December 2nd at 10:30 AM"."""
    return f"{format_day(moment.date())} at {format_time(moment)}"


def _day_of_month(token: str) -> int | None:
    m = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)?", token)
    if m:
        return int(m.group(1))
    return _ORDINAL_WORDS.get(token)


def _without_rejected(t: str) -> str:
    """Drop "instead of X" / "not X" spans so the day or time that remains is the wanted one."""
    return re.sub(
        r"\b(?:instead of|rather than|not)\s+(?:on\s+|at\s+)?[a-z0-9:]+(?:\s+[ap]m)?", " ", t
    )


def parse_day(text: str, today: date) -> date | None:
    """The calendar day named in ``text``, relative to ``today``.

    Understands ISO dates ("2025-12-02"), "today", "tomorrow", "the day after tomorrow",
    weekday names ("tuesday" = the next Tuesday on or after today; "next tuesday" = strictly
    after today), "next week" (its Monday) and month-day dates ("December 2nd", "2nd of
    December"; the next such date on or after today). When several days are named, the last
    one wins ("Tuesday, no, Wednesday"), except ones rejected with "not"/"instead of".
    """
    raw = str(text)
    iso = re.search(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", raw)
    if iso:
        try:
            return date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        except ValueError:
            return None
    t = _without_rejected(normalize(raw))
    found: list[tuple[int, date]] = []

    for m in re.finditer(r"\b(?:the )?day after tomorrow\b", t):
        found.append((m.start(), today + timedelta(days=2)))
    t_no_dat = re.sub(r"\b(?:the )?day after tomorrow\b", lambda m: " " * len(m.group()), t)
    for m in re.finditer(r"\btomorrow\b", t_no_dat):
        found.append((m.start(), today + timedelta(days=1)))
    for m in re.finditer(r"\b(?:today|tonight|this (?:morning|afternoon|evening))\b", t):
        found.append((m.start(), today))
    for m in re.finditer(r"\bnext week\b", t):
        found.append((m.start(), today + timedelta(days=7 - today.weekday())))
    for m in re.finditer(r"\b(next |this |coming )?([a-z]+)\b", t):
        wd = _WEEKDAY_ALIASES.get(m.group(2))
        if wd is None:
            continue
        delta = (wd - today.weekday()) % 7
        if m.group(1) == "next " and delta == 0:
            delta = 7
        found.append((m.start(), today + timedelta(days=delta)))
    month_words = "|".join(sorted(_MONTHS, key=len, reverse=True))
    patterns = (
        rf"\b({month_words})\s+(?:the\s+)?(\d{{1,2}}(?:st|nd|rd|th)?|[a-z]+(?:\s[a-z]+)?)\b",
        rf"\b(?:the\s+)?(\d{{1,2}}(?:st|nd|rd|th)?|[a-z]+)\s+of\s+({month_words})\b",
    )
    for i, pattern in enumerate(patterns):
        for m in re.finditer(pattern, t):
            month_tok, day_tok = (m.group(1), m.group(2)) if i == 0 else (m.group(2), m.group(1))
            if day_tok.startswith("twenty ") or day_tok.startswith("thirty "):
                tens, _, unit = day_tok.partition(" ")
                day_num = (20 if tens == "twenty" else 30) + _ORDINAL_WORDS.get(unit, 99)
            else:
                day_num = _day_of_month(day_tok.split(" ")[0])
            if day_num is None:
                continue
            month = _MONTHS[month_tok]
            for year in (today.year, today.year + 1):
                try:
                    candidate = date(year, month, day_num)
                except ValueError:
                    candidate = None
                    break
                if candidate >= today:
                    break
            if candidate is not None:
                found.append((m.start(), candidate))
    if not found:
        return None
    return max(found, key=lambda item: item[0])[1]


def parse_part_of_day(text: str) -> str | None:
    """The part of the day asked for: "morning", "afternoon" (evening counts) or None."""
    t = re.sub(r"\bgood (?:morning|afternoon|evening)\b", " ", normalize(text))
    t = _without_rejected(t)
    morning = [
        m.start()
        for m in re.finditer(r"\b(?:morning|mornings|before (?:noon|lunch)|in the am|early)\b", t)
    ]
    afternoon = [
        m.start()
        for m in re.finditer(
            r"\b(?:afternoon|afternoons|evening|after (?:noon|lunch)|in the pm|later in the day)\b",
            t,
        )
    ]
    if not morning and not afternoon:
        return None
    last_morning = max(morning, default=-1)
    last_afternoon = max(afternoon, default=-1)
    return "morning" if last_morning > last_afternoon else "afternoon"


def _infer_meridiem(hour: int, meridiem: str | None) -> int:
    """24-hour value; without AM/PM, clinic hours decide (1-7 → PM, 8-11 → AM, 12 → noon)."""
    if meridiem == "am":
        return 0 if hour == 12 else hour
    if meridiem == "pm":
        return hour if hour == 12 else hour + 12
    return hour + 12 if 1 <= hour <= 7 else hour


def parse_time(text: str) -> time | None:
    """A clock time in ``text``: "10:30", "2 pm", "2pm", "ten thirty", "half past ten", "noon".

    Bare number words count only when clearly a time ("at two", "two o'clock", "two pm"), so
    "the first one" is not 1 o'clock. Without AM/PM, hours 1-7 are taken as PM (clinic hours).
    """
    t = _without_rejected(normalize(text))
    words = "|".join(_NUMBER_WORDS)
    candidates: list[tuple[int, time]] = []

    def add(pos: int, hour: int, minute: int, meridiem: str | None) -> None:
        if not 0 <= minute < 60:
            return
        if 1 <= hour <= 12:
            candidates.append((pos, time(_infer_meridiem(hour, meridiem), minute)))
        elif meridiem is None and 13 <= hour <= 23:
            candidates.append((pos, time(hour, minute)))

    for m in re.finditer(r"\b(\d{1,2}):(\d{2})\s*(am|pm)?\b", t):
        add(m.start(), int(m.group(1)), int(m.group(2)), m.group(3))
    for m in re.finditer(r"\b(\d{1,2})\s*(am|pm)\b", t):
        add(m.start(), int(m.group(1)), 0, m.group(2))
    for m in re.finditer(r"\b(\d{1,2})(\d{2})\s*(am|pm)\b", t):
        add(m.start(), int(m.group(1)), int(m.group(2)), m.group(3))
    for m in re.finditer(r"\b(\d{1,2}) (00|15|30|45)\b(?:\s*(am|pm))?", t):
        add(m.start(), int(m.group(1)), int(m.group(2)), m.group(3))
    for m in re.finditer(r"\b(\d{1,2})\s*o'?clock\b", t):
        add(m.start(), int(m.group(1)), 0, None)
    for m in re.finditer(r"\b(?:at|around|about|by) (\d{1,2})\b(?!:| ?(?:am|pm|st|nd|rd|th))", t):
        add(m.start(), int(m.group(1)), 0, None)
    for m in re.finditer(
        rf"\b({words})(?: (o'?clock|oclock|fifteen|thirty|forty-five|forty five))?(?: (am|pm))?\b",
        t,
    ):
        hour = _NUMBER_WORDS[m.group(1)]
        minute_word, meridiem = m.group(2), m.group(3)
        preceded_by_at = re.search(r"\b(?:at|around|about|by)\s*$", t[: m.start()]) is not None
        if minute_word is None and meridiem is None and not preceded_by_at:
            continue
        minute = _MINUTE_WORDS.get((minute_word or "o'clock").replace(" ", "-"), 0)
        add(m.start(), hour, minute, meridiem)
    for m in re.finditer(rf"\b(half|quarter) (past|to) (\d{{1,2}}|{words})\b", t):
        hour_tok = m.group(3)
        hour = int(hour_tok) if hour_tok.isdigit() else _NUMBER_WORDS[hour_tok]
        if m.group(1) == "half":
            minute = 30
        elif m.group(2) == "past":
            minute = 15
        else:
            hour, minute = (hour - 1) or 12, 45
        add(m.start(), hour, minute, None)
    for m in re.finditer(r"\b(?:noon|midday|12 noon)\b", t):
        candidates.append((m.start(), time(12, 0)))
    if not candidates:
        return None
    return max(candidates, key=lambda item: item[0])[1]


# --- choices, yes/no --------------------------------------------------------------------------

_CHOICE_ORDINALS = {
    "first": 0,
    "1st": 0,
    "earliest": 0,
    "second": 1,
    "2nd": 1,
    "third": 2,
    "3rd": 2,
    "fourth": 3,
    "4th": 3,
    "fifth": 4,
    "5th": 4,
}


_BARE_NUMBER_RE = re.compile(
    r"(?:(?:the|that|um|uh|ok|okay|yes|yeah|how about|let's do|lets do|i'll take)\s+)*"
    r"(\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
    r"(?:\s+(?:one|please|thanks|thank you))*"
)


def parse_ordinal(text: str, n: int) -> int | None:
    """Index (0-based) of the item picked by position among ``n``, or None.

    Understands "the first one", "second", "the 2nd", "the last one", "number 2", "option
    three" and a bare number ("two", "the 3 one").
    """
    if n <= 0:
        return None
    t = normalize(text)
    m = re.search(r"\b(?:number|option)\s*(\d|one|two|three|four|five)\b", t)
    if m:
        tok = m.group(1)
        idx = (int(tok) if tok.isdigit() else _NUMBER_WORDS[tok]) - 1
        return idx if 0 <= idx < n else None
    positions = [
        (mm.start(), _CHOICE_ORDINALS[mm.group(1)])
        for mm in re.finditer(r"\b(" + "|".join(_CHOICE_ORDINALS) + r")\b", t)
    ]
    positions += [(mm.start(), n - 1) for mm in re.finditer(r"\b(?:last|latest|final)\b", t)]
    if positions:
        idx = max(positions)[1]
        return idx if 0 <= idx < n else None
    bare = _BARE_NUMBER_RE.fullmatch(t)
    if bare:
        tok = bare.group(1)
        idx = (int(tok) if tok.isdigit() else _NUMBER_WORDS[tok]) - 1
        return idx if 0 <= idx < n else None
    return None


def parse_choice(text: str, options: Sequence[time | datetime]) -> int | None:
    """Index of the option the caller picked among offered times, or None.

    Understands times ("10:30", "the 2 pm one", "at two") and positions ("the first one",
    "second", "the last one", "number 2"). A bare number ("two") is a time when one of the
    options is on that hour, otherwise a position.
    """
    n = len(options)
    if n == 0:
        return None
    t = normalize(text)
    times = [o.time() if isinstance(o, datetime) else o for o in options]

    bare = _BARE_NUMBER_RE.fullmatch(t)
    if bare:
        tok = bare.group(1)
        value = int(tok) if tok.isdigit() else _NUMBER_WORDS[tok]
        for i, o in enumerate(times):
            if (o.hour % 12 or 12) == value and o.minute == 0:
                return i
        idx = value - 1
        return idx if 0 <= idx < n else None

    wanted = parse_time(t)
    if wanted is not None:
        for i, o in enumerate(times):
            if (o.hour, o.minute) == (wanted.hour, wanted.minute):
                return i
        # "10:30" without AM/PM may mean the other half of the day.
        if not re.search(r"\b(?:am|pm|noon)\b", t):
            alt = (wanted.hour + 12) % 24
            for i, o in enumerate(times):
                if (o.hour, o.minute) == (alt, wanted.minute):
                    return i
        return None
    return parse_ordinal(t, n)


_NO_RE = re.compile(
    r"\b(?:no|nope|nah|don't|do not|dont|not really|never ?mind|cancel that|scratch that|"
    r"wait|hold on|stop|negative|wrong|that's wrong|not right|not correct|i'd rather not)\b"
)
_YES_RE = re.compile(
    r"\b(?:yes|yeah|yea|yep|yup|ya|sure|ok|okay|alright|all right|correct|right|please do|"
    r"go ahead|do it|book it|cancel it|sounds good|that works|works for me|perfect|great|fine|"
    r"absolutely|definitely|of course|affirmative|please|confirm|confirmed|that's it|lovely)\b"
)


def parse_yes_no(text: str) -> bool | None:
    """True for a yes ("yes", "sure", "go ahead"), False for a no ("no", "wait"), else None."""
    t = normalize(text)
    t = re.sub(r"\b(?:no problem|no worries|why not|no doubt)\b", " yes ", t)
    if _NO_RE.search(t):
        return False
    if _YES_RE.search(t):
        return True
    return None


def asks_for_more(text: str) -> bool:
    """Whether the caller asks for other options ("anything later?", "what else", "other times")."""
    t = normalize(text)
    return bool(
        re.search(
            r"\b(?:anything|something|any|other|others|else|more|different|later|another time|"
            r"next ones?|other options?|other times?)\b",
            t,
        )
        and re.search(r"\b(?:else|other|others|more|later|different|another|next)\b", t)
    )


def says_anyone(text: str) -> bool:
    """Whether the caller leaves the choice of provider to us ("anyone", "doesn't matter")."""
    t = normalize(text)
    return bool(
        re.search(
            r"\b(?:anyone|anybody|any of them|any one|whoever|doesn't matter|does not matter|"
            r"don't mind|do not mind|don't care|no preference|first available|soonest|earliest)\b",
            t,
        )
    )


# --- providers and specialties -----------------------------------------------------------------


def _similar(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def match_provider(text: str, provider_names: Sequence[str]) -> ProviderMatch:
    """Find the provider the caller named, tolerating titles, case and small STT errors.

    Words right after "doctor"/"Dr." are matched fuzzily (difflib): a close and unambiguous
    match is accepted, a weaker one becomes a suggestion, and an unknown name is reported in
    ``heard``. Elsewhere in the sentence only exact surnames (or very close long ones) count,
    so ordinary words never turn into doctors.
    """
    keys: dict[str, str] = {}
    for name in provider_names:
        key = provider_key(name)
        if key:
            keys.setdefault(key, name)
    if not keys:
        return ProviderMatch()
    tokens = [re.sub(r"'s$", "", tok) for tok in normalize(text).split()]

    def score(candidate: str) -> list[tuple[float, str]]:
        scored = [(_similar(candidate, k), k) for k in keys]
        scored.sort(key=lambda item: (-item[0], item[1]))
        return scored

    # 1. Exact surnames anywhere (also two words joined: "rama swamy" -> "ramaswamy").
    for i, tok in enumerate(tokens):
        if tok in keys and tok not in _STOPWORDS:
            return ProviderMatch(name=keys[tok])
        if i + 1 < len(tokens):
            joined = tok + tokens[i + 1]
            if joined in keys:
                return ProviderMatch(name=keys[joined])
        if i + 2 < len(tokens):
            joined3 = tok + tokens[i + 1] + tokens[i + 2]
            if joined3 in keys:
                return ProviderMatch(name=keys[joined3])

    # 2. Fuzzy: the word(s) after a title.
    for i, tok in enumerate(tokens):
        if tok not in ("doctor", "doc") or i + 1 >= len(tokens):
            continue
        first = tokens[i + 1]
        if first in _STOPWORDS or _WEEKDAY_ALIASES.get(first) is not None or first.isdigit():
            continue
        options = [first]
        if i + 2 < len(tokens) and tokens[i + 2] not in _STOPWORDS:
            options.append(first + tokens[i + 2])
        best: list[tuple[float, str]] = []
        for option in options:
            scored = score(option)
            if not best or scored[0][0] > best[0][0]:
                best = scored
        top_score, top_key = best[0]
        second_score = best[1][0] if len(best) > 1 else 0.0
        if top_score >= 0.8 and top_score - second_score >= 0.06:
            return ProviderMatch(name=keys[top_key])
        suggestions = tuple(keys[k] for s, k in best[:3] if s >= 0.6)
        return ProviderMatch(suggestions=suggestions, heard=first)

    # 3. Very close long words anywhere ("patell", "nakashimo").
    for tok in tokens:
        if len(tok) < 5 or tok in _STOPWORDS:
            continue
        scored = score(tok)
        top_score, top_key = scored[0]
        second_score = scored[1][0] if len(scored) > 1 else 0.0
        if top_score >= 0.88 and top_score - second_score >= 0.06:
            return ProviderMatch(name=keys[top_key])
    return ProviderMatch()


# Lay and professional names of each specialty (keys are lowercase vocabulary specialties).
_SPECIALTY_ALIASES: dict[str, tuple[str, ...]] = {
    "ent": (
        "ent",
        "e n t",
        "ear nose and throat",
        "ear nose throat",
        "otolaryngolog",
        "ear doctor",
    ),
    "cardiology": ("cardiolog", "heart"),
    "dermatology": ("dermatolog", "skin", "derm", "rash", "acne", "mole"),
    "endocrinology": ("endocrin", "thyroid", "diabetes", "hormone"),
    "gastroenterology": ("gastroenterolog", "gastro", "stomach", "digestive", "gi doctor"),
    "ob-gyn": (
        "ob-gyn",
        "ob gyn",
        "obgyn",
        "o b g y n",
        "gynecolog",
        "gynaecolog",
        "obstetric",
        "gyno",
        "women's health",
        "pregnan",
    ),
    "orthopedics": ("orthoped", "orthopaed", "ortho", "bone", "joint", "knee", "hip", "fracture"),
    "podiatry": ("podiatr", "foot", "feet", "ankle"),
    "rheumatology": ("rheumatolog", "rheumat", "arthritis", "lupus"),
    "nephrology": ("nephrolog", "kidney", "renal"),
    "pulmonology": ("pulmonolog", "pulmonar", "lung", "breathing", "asthma"),
    "urology": ("urolog", "bladder", "prostate", "urinary"),
    "ophthalmology": ("ophthalmolog", "opthalmolog", "ophthalmic", "eye", "vision"),
    "oncology": ("oncolog", "cancer", "tumor"),
    "neurology": ("neurolog", "brain", "migraine", "seizure"),
    "psychiatry": ("psychiatr", "mental health", "depression", "anxiety", "psych"),
    "pediatrics": (
        "pediatr",
        "paediatr",
        "child",
        "children",
        "kid",
        "kids",
        "baby",
        "son",
        "daughter",
    ),
    "allergist": ("allerg",),
    "audiology": ("audiolog", "hearing"),
    "physical therapy": ("physical therap", "physiotherap", "physio", "pt", "rehab"),
}
_WHOLE_WORD_ALIASES = frozenset(
    {
        "ent",
        "e n t",
        "pt",
        "son",
        "kid",
        "kids",
        "eye",
        "hip",
        "mole",
        "rash",
        "derm",
        "gi doctor",
        "ortho",
        "psych",
        "gyno",
        "baby",
        "heart",
        "lung",
        "foot",
        "bone",
        "skin",
        "child",
        "brain",
    }
)
_SPOKEN_SPECIALTY = {
    "ent": "ear, nose and throat",
    "ob-gyn": "OB GYN",
    "allergist": "allergy",
}


def spoken_specialty(specialty: str) -> str:
    """How a specialty is said aloud ("ENT" → "ear, nose and throat")."""
    return _SPOKEN_SPECIALTY.get(specialty.lower(), specialty)


def _specialty_patterns(specialty: str) -> list[str]:
    key = specialty.lower()
    aliases = list(_SPECIALTY_ALIASES.get(key, ()))
    base = re.sub(r"[^a-z ]", " ", key).strip()
    if base:
        aliases.append(base)
        # generic stems: "neurology" -> "neurolog", "pediatrics" -> "pediatri"
        for suffix in ("ology", "ics", "ry", "y"):
            if base.endswith(suffix) and len(base) - len(suffix) >= 4:
                aliases.append(base[: len(base) - len(suffix) + (3 if suffix == "ology" else 0)])
                break
    return aliases


def match_specialty(text: str, specialties: Sequence[str]) -> str | None:
    """The specialty (as spelled in ``specialties``) the caller asks for, or None.

    Understands the specialty itself, its practitioner ("dermatologist", "pediatrician") and
    lay terms ("skin doctor", "heart", "eye doctor").
    """
    t = " " + normalize(text).replace("-", " ") + " "
    best: tuple[int, int, str] | None = None  # (alias length, -position, specialty)
    for specialty in specialties:
        for alias in _specialty_patterns(specialty):
            alias_norm = alias.replace("-", " ")
            full_word = len(alias_norm) <= 3 or alias_norm in _WHOLE_WORD_ALIASES
            pattern = rf"\b{re.escape(alias_norm)}" + (r"s?\b" if full_word else "")
            m = re.search(pattern, t)
            if m is None:
                continue
            rank = (len(alias_norm), -m.start(), specialty)
            if best is None or rank[:2] > best[:2]:
                best = rank
    return best[2] if best else None


# --- intent -----------------------------------------------------------------------------------

_BOOK_RE = re.compile(
    r"\b(?:book|booking|appointment|schedule|see|visit|make|set up|get in|come in|need|want|"
    r"would like|i'd like|like to|looking for|available|availability|opening|openings|slot|slots)\b"
)


def detect_intent(text: str) -> Intent:
    """The caller's goal in one utterance, ignoring dialogue context."""
    t = normalize(text)
    if not t:
        return Intent.NONE
    if re.search(
        r"\b(?:reschedule|move|change|push|shift|switch|bump|postpone|bring forward)\b"
        r".*\b(?:appointment|booking|visit|checkup)\b",
        t,
    ):
        return Intent.RESCHEDULE
    cancel_words = (
        r"\b(?:cancel|call off|can't make|cannot make|won't make|won't be able to make)\b"
    )
    if re.search(cancel_words, t) and not re.fullmatch(
        r"(?:(?:no|oh|um|uh|wait)\s+)*cancel (?:that|this|it)(?:\s+please)?", t
    ):
        return Intent.CANCEL
    if (
        re.search(r"\bappointments?\b", t)
        and (
            re.search(
                r"\b(?:what|when|which|list|check|show|tell me|do i have|have i got|any|upcoming|"
                r"remind|confirm my)\b",
                t,
            )
            or re.search(r"\bmy appointments\b", t)
        )
        and not re.search(
            r"\b(?:book|make|schedule|new|set up|another|available|availability|open|free)\b", t
        )
    ):
        return Intent.LIST_APPOINTMENTS
    if re.search(
        r"\b(?:who|which|what) (?:doctors?|providers?|specialists?|of your doctors)\b|"
        r"\bwho (?:does|do|is|are|treats?|handles?|can)\b|\bdo you have (?:a|an|any)\b|"
        r"\bare there (?:any )?(?:doctors?|providers?)\b|\bwhat does doctor\b|"
        r"\bwhat kind of doctor\b|\blist (?:the |your |all )?(?:doctors|providers)\b",
        t,
    ) and not re.search(r"\b(?:book|schedule|appointment)\b", t):
        return Intent.FIND_PROVIDERS
    if _BOOK_RE.search(t):
        return Intent.BOOK
    if re.search(r"\b(?:help|what can you do|what do you do|how does this work|options)\b", t):
        return Intent.HELP
    if re.search(
        r"\b(?:bye|goodbye|good bye|that's all|that is all|nothing else|that's it|that will be all|"
        r"have a good|see you)\b",
        t,
    ):
        return Intent.GOODBYE
    if re.search(r"\b(?:thanks|thank you|thx|cheers|appreciate)\b", t):
        return Intent.THANKS
    if re.search(r"^(?:hi|hello|hey|hiya|good (?:morning|afternoon|evening))\b", t):
        return Intent.GREETING
    return Intent.NONE


_REASON_STOP = re.compile(
    r"\s+\b(?:on|at|next|this|tomorrow|today|in the|please|with|around|before|after|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b.*$"
)


def extract_reason(text: str) -> str | None:
    """The visit reason in a booking request ("... for a checkup" → "checkup"), or None."""
    t = normalize(text)
    m = re.search(
        r"\b(?:for|about|regarding|because of)\s+(?:a|an|my|the|some|his|her|our)\s+"
        r"([a-z' -]{3,60})",
        t,
    )
    if not m:
        m = re.search(r"\bbecause (?:i have|i've got|i'm having|of)\s+([a-z' -]{3,60})", t)
    if not m:
        return None
    reason = _REASON_STOP.sub("", m.group(1)).strip()
    if not reason or re.search(
        r"\b(?:one|appointment|slot|time|doctor|first|second|third|last|week|day|morning|afternoon)\b",
        reason,
    ):
        return None
    return reason
