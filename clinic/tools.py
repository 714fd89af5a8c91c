"""The clinic tools, as an LLM (cloud or the local brain) calls them.

One :class:`ClinicTools` per conversation binds the caller's patient id, so no tool takes a
patient argument and one caller can never touch another's appointments. Every call returns a
JSON-serializable dict with ``"ok"``; failures carry a human-readable ``"error"`` and a
machine-readable ``"code"``.

Audit, fail closed: with an ``audit_sink``, a booking or cancellation is made inside an open
database transaction (:meth:`clinic.store.ClinicStore.begin_book`), the sink is awaited with the
result, and only then is the transaction committed. If the sink raises or times out (or the
call is cancelled, e.g. by a barge-in) the transaction is rolled back, so there is never a
booking the audit trail does not know about, and no other session ever saw it. The price is
that SQLite's write lock is held while the sink runs, so the sink call is bounded by
``audit_timeout_s``. The final ``COMMIT`` runs on the event loop thread on purpose: it is a
sub-millisecond WAL append, and keeping it synchronous means a cancellation cannot land between
"committed" and "reported".
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol, runtime_checkable

from loguru import logger

from clinic import info as clinic_info
from clinic.care import CareStore
from clinic.store import ClinicStore
from clinic.store_records import (
    AppointmentNotFoundError,
    Provider,
    SlotUnavailableError,
    normalize_appointment_id,
)
from clinic.store_transactions import PendingChange
from clinic.tool_args import (
    ToolArgumentError,
    appointment_result,
    failure,
    optional_text,
    resolve_day,
    resolve_part_of_day,
    slot_result,
)
from clinic.tool_schemas import TOOL_NAMES
from clinic.tools_care import CareTools
from clinic.understanding.providers import match_provider, match_specialty


@runtime_checkable
class ToolAuditSink(Protocol):
    """Where booking and cancellation tool calls are recorded before they take effect."""

    async def record_tool_call(
        self, *, name: str, arguments: dict[str, Any], result: dict[str, Any]
    ) -> None:
        """Durably record one tool call; raise if it could not be recorded."""
        ...


class ClinicTools(CareTools):
    """The clinic tools for one conversation (one patient).

    Args:
        store: The clinic store.
        patient_id: The caller; every tool acts on this patient only.
        today: The clinic-local date the conversation happens on (resolves "tuesday").
        audit_sink: When given, bookings and cancellations commit only after it recorded them.
        audit_timeout_s: Longest wait for the audit sink before failing closed.
        max_slots: Most slots one ``list_open_slots`` call returns.
        clock: Returns the current aware time (defaults to the system clock); slots before it
            are never offered when ``today`` is the current day.
        identified: The host application vouched for ``patient_id`` (else it is this call's
            own id until ``verify_identity`` succeeds).
        medications: The vocabulary's medication names (refill requests are normalized to them).
        info: The clinic information (default: the bundled ``clinic_info.json``).
        transfer: Hands the call to a person (telephony); without it hand-off is a call-back.
    """

    def __init__(
        self,
        store: ClinicStore,
        *,
        patient_id: str,
        today: date,
        audit_sink: ToolAuditSink | None = None,
        audit_timeout_s: float = 5.0,
        max_slots: int = 12,
        clock: Callable[[], datetime] | None = None,
        identified: bool = False,
        medications: list[str] | None = None,
        info: dict[str, Any] | None = None,
        transfer: Callable[[str | None], Any] | None = None,
    ):
        if not str(patient_id).strip():
            raise ValueError("patient_id must not be empty")
        self.store = store
        self.patient_id = str(patient_id)
        self.today = today
        self.audit_sink = audit_sink
        self.audit_timeout_s = audit_timeout_s
        self.max_slots = max_slots
        self._clock = clock or (lambda: datetime.now(UTC))
        self._handlers = {
            "find_provider": self._find_provider,
            "list_open_slots": self._list_open_slots,
            "book_appointment": self._book_appointment,
            "cancel_appointment": self._cancel_appointment,
            "list_my_appointments": self._list_my_appointments,
            **self._care_handlers(),
        }
        self.identified = identified
        self.medications = list(medications or [])
        self.info = info if info is not None else clinic_info.load_info()
        self.care = CareStore(store)
        self.transfer = transfer
        self._identity_attempts = 0
        self._booked_here: set[str] = set()  # reachable before identification

    # --- entry points --------------------------------------------------------------------------

    async def call(self, name: str, arguments: dict[str, Any] | None) -> dict[str, Any]:
        """Run one tool and return its JSON-serializable result (never raises for bad input)."""
        handler = self._handlers.get(name)
        if handler is None:
            return failure(
                f"Unknown tool '{name}'. Available: {', '.join(TOOL_NAMES)}.", "unknown_tool"
            )
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            return failure("Tool arguments must be a JSON object.", "invalid_argument")
        try:
            result = await handler(dict(arguments))
        except ToolArgumentError as e:
            result = failure(str(e), "invalid_argument")
        except asyncio.CancelledError:
            raise
        except Exception as e:
            # No traceback: its variable dump could carry the caller's words into the log.
            logger.error(f"Clinic tool {name} failed with {type(e).__name__}")
            result = failure(
                "The clinic system had a problem and nothing was changed. Please try again.",
                "internal_error",
            )
        logger.debug(f"Clinic tool {name}: ok={result['ok']} code={result.get('code')}")
        return result

    def register(self, llm: Any) -> None:
        """Register one handler per tool on a Pipecat ``LLMService``."""
        for name in TOOL_NAMES:
            llm.register_function(name, self.handle_function_call)

    async def handle_function_call(self, params: Any) -> None:
        """Pipecat function-call handler (``params`` is a ``FunctionCallParams``)."""
        result = await self.call(params.function_name, dict(params.arguments or {}))
        await params.result_callback(result)

    # --- read tools ----------------------------------------------------------------------------

    async def _find_provider(self, args: dict[str, Any]) -> dict[str, Any]:
        name = optional_text(args, "name")
        specialty_text = optional_text(args, "specialty")
        if name is None and specialty_text is None:
            specialties = await asyncio.to_thread(self.store.specialties)
            return failure(
                "Give a provider name or a specialty.", "invalid_argument", specialties=specialties
            )
        specialty = None
        if specialty_text is not None:
            specialty = await self._resolve_specialty(specialty_text)
            if isinstance(specialty, dict):
                return specialty
        providers = await asyncio.to_thread(self.store.find_providers, name, specialty)
        result: dict[str, Any] = {
            "ok": True,
            "specialty": specialty,
            "providers": [p.to_dict() for p in providers],
        }
        if not providers and name is not None:
            result["suggestions"] = await self._suggest(name)
        return result

    async def _list_open_slots(self, args: dict[str, Any]) -> dict[str, Any]:
        provider_text = optional_text(args, "provider")
        if provider_text is None:
            raise ToolArgumentError("'provider' is required: the name of the provider.")
        day = resolve_day(args["day"], self.today) if optional_text(args, "day") else None
        part = resolve_part_of_day(args.get("part_of_day"))
        if day is not None and day < self.today:
            raise ToolArgumentError(f"{day.isoformat()} has already passed.")
        provider = await self._resolve_provider(provider_text)
        if isinstance(provider, dict):
            return provider
        not_before = self._not_before()
        slots = await asyncio.to_thread(
            self.store.open_slots, provider.id, day, part, self.max_slots, not_before
        )
        result: dict[str, Any] = {
            "ok": True,
            "provider": provider.to_dict(),
            "day": day.isoformat() if day else None,
            "part_of_day": part,
            "slots": [slot_result(s, self.store.tz) for s in slots],
        }
        if not slots and day is not None:
            start = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.store.tz)
            later = await asyncio.to_thread(
                self.store.open_slots, provider.id, None, part, 6, max(start, not_before)
            )
            result["next_available"] = [slot_result(s, self.store.tz) for s in later]
        return result

    async def _list_my_appointments(self, args: dict[str, Any]) -> dict[str, Any]:
        appointments = await asyncio.to_thread(self.store.appointments_for, self.patient_id)
        not_before = self._not_before()
        upcoming = [a for a in appointments if a.start_utc >= not_before and self._reachable(a.id)]
        return {
            "ok": True,
            "identified": self.identified,
            "appointments": [appointment_result(a, self.store.tz) for a in upcoming],
        }

    # --- write tools ---------------------------------------------------------------------------

    async def _book_appointment(self, args: dict[str, Any]) -> dict[str, Any]:
        raw_slot = args.get("slot_id")
        try:
            slot_id = int(str(raw_slot).strip())
        except (TypeError, ValueError) as e:
            raise ToolArgumentError("'slot_id' must be the number of an open slot.") from e
        reason = optional_text(args, "reason")
        slot = await asyncio.to_thread(self.store.get_slot, slot_id)
        if slot is None:
            return await self._audit_best_effort(
                "book_appointment",
                args,
                failure(f"There is no slot {slot_id}.", "slot_unavailable"),
            )
        if slot.start_utc < self._not_before():
            return await self._audit_best_effort(
                "book_appointment",
                args,
                failure("That time has already passed.", "slot_unavailable"),
            )
        try:
            pending = await self._begin(self.store.begin_book, self.patient_id, slot_id, reason)
        except SlotUnavailableError:
            return await self._audit_best_effort(
                "book_appointment",
                args,
                failure(
                    "Sorry, that time was just taken. Please pick another slot.", "slot_unavailable"
                ),
            )
        result = {"ok": True, "appointment": appointment_result(pending.appointment, self.store.tz)}
        self._booked_here.add(pending.appointment.id)
        return await self._commit_audited(
            "book_appointment",
            args,
            pending,
            result,
            "The booking could not be recorded, so it was not made. Please try again.",
        )

    async def _cancel_appointment(self, args: dict[str, Any]) -> dict[str, Any]:
        raw_id = optional_text(args, "appointment_id")
        if raw_id is None:
            raise ToolArgumentError("'appointment_id' is required, e.g. APT-7K3F9Q.")
        code = normalize_appointment_id(raw_id)
        pending = await self._begin_own("cancel_appointment", args, self.store.begin_cancel, code)
        if isinstance(pending, dict):
            return pending
        result = {"ok": True, "appointment": appointment_result(pending.appointment, self.store.tz)}
        return await self._commit_audited(
            "cancel_appointment",
            args,
            pending,
            result,
            "The cancellation could not be recorded, so the appointment is still booked. "
            "Please try again.",
        )

    async def _begin_own(
        self, name: str, args: dict[str, Any], begin: Callable[..., PendingChange], code: str, *more
    ) -> PendingChange | dict[str, Any]:
        """Begin ``begin(code, patient, *more)`` on one of the caller's own appointments.

        Returns the pending change, or the (audited) ``not_found`` failure when ``code`` is not
        a booked appointment this caller can reach.
        """
        try:
            if not self._reachable(code):
                raise AppointmentNotFoundError(code)
            return await self._begin(begin, code, self.patient_id, *more)
        except AppointmentNotFoundError:
            refused = failure(f"You have no booked appointment {code}.", "not_found")
            return await self._audit_best_effort(name, args, refused)

    async def _begin(self, begin: Callable[..., PendingChange], *args: Any) -> PendingChange:
        """Run a store ``begin_*`` in a thread; if we are cancelled meanwhile, roll it back."""
        future = asyncio.ensure_future(asyncio.to_thread(begin, *args))
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:

            def _rollback(f: asyncio.Future) -> None:
                if not f.cancelled() and f.exception() is None:
                    f.result().rollback()

            future.add_done_callback(_rollback)
            raise

    async def _commit_audited(
        self,
        name: str,
        args: dict[str, Any],
        pending: PendingChange,
        result: dict[str, Any],
        audit_error: str,
    ) -> dict[str, Any]:
        """Record ``result`` in the audit sink, then commit; roll back if recording fails."""
        try:
            if self.audit_sink is not None:
                await asyncio.wait_for(
                    self.audit_sink.record_tool_call(name=name, arguments=args, result=result),
                    timeout=self.audit_timeout_s,
                )
        except asyncio.CancelledError:
            pending.rollback()
            raise
        except Exception as e:
            pending.rollback()
            logger.error(f"Audit sink failed for {name} ({type(e).__name__}); change rolled back")
            return failure(audit_error, "audit_failed")
        try:
            pending.commit()  # synchronous on purpose, see the module docstring
        except Exception as e:
            logger.error(f"Commit failed for {name} ({type(e).__name__}) after audit")
            refused = failure(
                "The clinic system could not save the change, so nothing was changed. "
                "Please try again.",
                "internal_error",
            )
            await self._audit_best_effort(name, args, refused)
            return refused
        return result

    async def _audit_best_effort(
        self, name: str, args: dict[str, Any], outcome: dict[str, Any]
    ) -> dict[str, Any]:
        """Best-effort audit record of an outcome with nothing to commit or roll back."""
        if self.audit_sink is not None:
            try:
                await asyncio.wait_for(
                    self.audit_sink.record_tool_call(name=name, arguments=args, result=outcome),
                    timeout=self.audit_timeout_s,
                )
            except asyncio.CancelledError:
                raise
            except Exception as e:
                logger.warning(f"Audit sink failed to record {name} ({type(e).__name__})")
        return outcome

    # --- helpers -------------------------------------------------------------------------------

    def _reachable(self, appointment_id: str) -> bool:
        """An identified caller reaches all their appointments; others only this call's."""
        return self.identified or appointment_id in self._booked_here

    def _not_before(self) -> datetime:
        """Earliest start time worth offering: now on the current day, else the day's start."""
        start = datetime.combine(self.today, time(0), tzinfo=self.store.tz)
        now = self._clock()
        if now.astimezone(self.store.tz).date() == self.today:
            return max(start, now)
        return start

    async def _resolve_provider(self, text: str) -> Provider | dict[str, Any]:
        providers = await asyncio.to_thread(self.store.find_providers, text, None)
        if len(providers) == 1:
            return providers[0]
        if len(providers) > 1:
            names = [p.name for p in providers]
            return failure(
                f"'{text}' matches several providers: {', '.join(names)}.",
                "ambiguous_provider",
                candidates=names,
            )
        return failure(
            f"The clinic has no provider named '{text}'.",
            "unknown_provider",
            suggestions=await self._suggest(text),
        )

    async def _resolve_specialty(self, text: str) -> str | dict[str, Any]:
        """The clinic's specialty that ``text`` names, or an ``unknown_specialty`` failure."""
        specialties = await asyncio.to_thread(self.store.specialties)
        specialty = match_specialty(text, specialties)
        if specialty is None:
            return failure(
                f"The clinic has no '{text}' providers.",
                "unknown_specialty",
                specialties=specialties,
            )
        return specialty

    async def _suggest(self, name: str) -> list[str]:
        everyone = await asyncio.to_thread(self.store.find_providers)
        match = match_provider(f"doctor {name}", [p.name for p in everyone])
        return [match.name] if match.name else list(match.suggestions)
