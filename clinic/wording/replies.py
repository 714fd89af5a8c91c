"""The local brain's sentences that carry values: providers, times, appointments, codes.

Each function returns one reply (or a lead said before one) exactly as the caller hears it; the
fixed sentences are in :mod:`clinic.wording.phrases`.
"""

from __future__ import annotations

from datetime import date, datetime, time

from clinic.wording.phrases import ASK_IDENTITY
from clinic.wording.spoken import (
    code_spoken,
    describe_appointment,
    format_day,
    format_time,
    format_when,
    join_words,
    spoken_provider,
    spoken_specialty,
)

# --- errors and asking again ---------------------------------------------------------------------


def could_not(error: str) -> str:
    """A tool refused: say why."""
    return f"Sorry, I couldn't do that. {error}"


def unfinished_cancel(appt: dict) -> str:
    """A cancellation was cut off before it finished: ask again."""
    return (
        "Sorry, I didn't get to finish cancelling. Shall I cancel your appointment "
        f"{describe_appointment(appt)}?"
    )


def again_confirm_book(lead: str, confirm: str) -> str:
    """Ask again whether to book (``confirm`` from :func:`confirm_book`)."""
    return f"{lead}{confirm} Please say yes or no."


def again_which_time(lead: str, window: str) -> str:
    """Ask again which of the offered times."""
    return f"{lead}Which time would you like? I have {window}."


def again_confirm_cancel(lead: str, appt: dict) -> str:
    """Ask again whether to cancel ``appt``."""
    return (
        f"{lead}Shall I cancel your appointment {describe_appointment(appt)}? Please say yes or no."
    )


# --- providers -----------------------------------------------------------------------------------


def did_you_mean(heard: str, names: list[str]) -> str:
    """An unknown doctor's name with close matches: "Did you mean Doctor A or Doctor B?"."""
    spoken = [spoken_provider(n) for n in names]
    return f"I couldn't find a Doctor {heard}. Did you mean {join_words(spoken, 'or')}?"


def no_doctor_lead(heard: str) -> str:
    """Lead before the providers of the specialty the caller also named."""
    return f"I couldn't find a Doctor {heard}. "


def no_doctor(heard: str) -> str:
    """An unknown doctor's name and no specialty: ask for one."""
    return (
        f"Sorry, we don't have a Doctor {heard} at this clinic. What kind of "
        "specialist are you looking for? I can find one for you."
    )


def who_to_see(names: list[str]) -> str:
    """Which of these providers (names as the directory spells them)."""
    return f"Who would you like to see: {join_words([spoken_provider(n) for n in names], 'or')}?"


def which_one(names: list[str]) -> str:
    """Which of the suggested providers."""
    return "Which one: " + join_words([spoken_provider(n) for n in names], "or") + "?"


def providers_list(names: list[str], more: int, field_name: str | None) -> str:
    """Providers said aloud, and how many ``more``: "For cardiology, we have A and B."."""
    spoken = [spoken_provider(n) for n in names]
    where = f"For {field_name}, we have" if field_name else "We have"
    if more > 0:
        spoken.append("one other" if more == 1 else f"{more} others")
    return f"{where} {join_words(spoken)}."


def no_provider(prefix: str, field_name: str | None) -> str:
    """No provider of that kind (answering "who does X")."""
    return f"{prefix}Sorry, we don't have a {field_name or 'matching'} provider at the moment."


def works_in(prefix: str, provider: dict) -> str:
    """One provider's specialty, and an offer to book."""
    return (
        f"{prefix}{spoken_provider(provider['name'])} works in "
        f"{spoken_specialty(provider['specialty'])}. "
        "Would you like to book an appointment?"
    )


def offer_to_book(prefix: str, listed: str) -> str:
    """Providers listed (:func:`providers_list`), and an offer to book."""
    return f"{prefix}{listed} Would you like to book with one of them?"


def no_provider_now(prefix: str, field_name: str | None) -> str:
    """No provider of the specialty being booked."""
    return (
        f"{prefix}Sorry, we don't have a {field_name} provider right now. "
        "Is there another doctor you'd like?"
    )


def only_provider_lead(prefix: str, provider: str, field_name: str | None) -> str:
    """Lead before the openings of the only provider of a specialty."""
    return f"{prefix}{spoken_provider(provider)} is our {field_name} provider. "


def who_of_them(prefix: str, listed: str) -> str:
    """Providers listed (:func:`providers_list`): which one, or anyone."""
    return f"{prefix}{listed} Who would you like to see, or is anyone fine?"


# --- openings and booking ------------------------------------------------------------------------


def on_day(day: date) -> str:
    """The day after a verb: ' on Tuesday, December 2nd'."""
    return f" on {format_day(day)}"


def in_part(part: str) -> str:
    """The part of the day after a day: ' in the morning'."""
    return f" in the {part}"


def nothing_open_next(prefix: str, who: str, when: str, window: str) -> str:
    """Nothing open when asked; the next openings instead."""
    return (
        f"{prefix}{who} has nothing open{when}. The next openings are "
        f"{window}. Would one of those work?"
    )


def no_openings(prefix: str, who: str, when: str) -> str:
    """Nothing open for two weeks."""
    return (
        f"{prefix}{who} has no openings{when} in the next two weeks. "
        "Would you like another day or another doctor?"
    )


def not_free_at(prefix: str, who: str, want: time, when: str, window: str) -> str:
    """Not free at the time asked; the closest times instead."""
    return (
        f"{prefix}{who} isn't free at {format_time(want)}{when}. The closest times are "
        f"{window}. Which would you like?"
    )


def openings_lead(who: str, *, on_a_day: bool) -> str:
    """How a provider's openings are introduced (on a given day, or the next ones)."""
    return f"{who} has openings on" if on_a_day else f"{who}'s next openings are"


def nothing_open_lead(when: str) -> str:
    """How the next openings are introduced when nothing is open then."""
    return f"There's nothing open{when}. The next openings are"


def earliest_lead(field_name: str | None, part: str | None) -> str:
    """How the earliest openings across providers are introduced."""
    words = ["The earliest", field_name, part, "openings are"]
    return " ".join(w for w in words if w)


def which_would_you_like(prefix: str, lead: str, window: str) -> str:
    """Openings offered (``lead`` from :func:`openings_lead` or similar)."""
    return f"{prefix}{lead} {window}. Which would you like?"


def which_of_these(window: str) -> str:
    """A yes to several offered times: which one."""
    return f"Great. Which one: {window}?"


def also_have(window: str) -> str:
    """The next offered times."""
    return f"I also have {window}. Would one of those work?"


def confirm_move(who: str, start: datetime) -> str:
    """Confirm moving the appointment to this slot."""
    return f"Move it to {who}, {format_when(start)}?"


def confirm_book(who: str, start: datetime) -> str:
    """Confirm booking this slot."""
    return f"{who}, {format_when(start)}. Shall I book it?"


def booked(appt: dict) -> str:
    """The booking is made: when, with whom, and the confirmation code."""
    return (
        f"You're booked {describe_appointment(appt)}. Your confirmation code is "
        f"{code_spoken(appt.get('appointment_id', ''))}. "
        "Is there anything else I can help with?"
    )


# --- the caller's appointments -------------------------------------------------------------------


def cancel_which(appointments: list[dict]) -> str:
    """Which of these appointments to cancel."""
    listed = [describe_appointment(a) for a in appointments]
    return f"You have appointments {join_words(listed, 'and')}. Which one should I cancel?"


def move_which(appointments: list[dict]) -> str:
    """Which of these appointments to move."""
    listed = [describe_appointment(a) for a in appointments]
    return f"You have appointments {' and '.join(listed)}. Which one should I move?"


def several_of_those(count: int, question: str) -> str:
    """Several appointments match what the caller said."""
    return f"You have {count} of those. {question}"


def confirm_cancel(appt: dict) -> str:
    """Confirm cancelling ``appt``."""
    return f"You have an appointment {describe_appointment(appt)}. Shall I cancel it?"


def cancelled(appt: dict) -> str:
    """The cancellation is made."""
    return f"Done. Your appointment {describe_appointment(appt)} is cancelled. Anything else?"


def one_appointment(appt: dict) -> str:
    """The caller's only appointment."""
    return f"You have one appointment, {describe_appointment(appt)}. Anything else?"


def appointments_list(shown: list[dict], total: int) -> str:
    """The caller's appointments: ``shown`` said, and how many more of ``total``."""
    listed = [describe_appointment(a) for a in shown]
    more = total - len(listed)
    tail = f", and {more} more" if more > 0 else ""
    return f"You have {total} appointments: {join_words(listed)}{tail}. Anything else?"


def moved(appt: dict) -> str:
    """The move is made."""
    return f"Done. Your appointment is now {describe_appointment(appt)}. Anything else?"


def move_when(appt: dict) -> str:
    """Ask when to move ``appt`` to."""
    return f"Your appointment is {describe_appointment(appt)}. When would you like it instead?"


# --- care ----------------------------------------------------------------------------------------


def refill_okay(medication: str) -> str:
    """Confirm sending a refill request."""
    return f"I'll send a refill request for {medication} to the care team. Okay?"


def refill_identify(medication: str) -> str:
    """A refill needs the caller's identity first."""
    return f"I can request a refill of {medication}. First, {ASK_IDENTITY.lower()}"


def refill_sent(medication: str | None, followup: str | None) -> str:
    """The refill request is in, and what happens next."""
    followup = followup or "the care team follows up"
    return f"Done: your {medication} refill request is in, and {followup}."


def connecting(team: str | None) -> str:
    """The call is being transferred."""
    return f"Connecting you to {team or 'the front desk'} now."


def will_call_back(team: str | None, window: str | None) -> str:
    """A call-back is requested."""
    return f"Okay, I've asked {team or 'the front desk'} to call you back {window}."


def verified_lead(first_name: str | None) -> str:
    """Lead after the caller was identified."""
    return f"Thanks, {first_name or 'you are verified'}. "


def not_matched() -> str:
    """The name and birth date did not match: ask again."""
    return f"Sorry, that doesn't match our records. {ASK_IDENTITY}"


def who_are_you() -> str:
    """The caller must be identified first."""
    return f"I can look that up once I know who you are. {ASK_IDENTITY}"
