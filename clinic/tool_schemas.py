"""The clinic tools' names and function schemas, as every LLM (cloud or local brain) sees them."""

from __future__ import annotations

from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema

from clinic import info as clinic_info

CARE_TOOL_NAMES = (
    "find_earliest_slots",
    "reschedule_appointment",
    "request_refill",
    "request_handoff",
    "clinic_info",
    "verify_identity",
)
BOOKING_TOOL_NAMES = (
    "find_provider",
    "list_open_slots",
    "book_appointment",
    "cancel_appointment",
    "list_my_appointments",
)
TOOL_NAMES = BOOKING_TOOL_NAMES + CARE_TOOL_NAMES
WRITE_TOOLS = frozenset(
    {
        "book_appointment",
        "cancel_appointment",
        "reschedule_appointment",
        "request_refill",
        "request_handoff",
    }
)


def tools_schema() -> ToolsSchema:
    """The clinic tools as Pipecat function schemas."""
    return ToolsSchema(
        standard_tools=[
            FunctionSchema(
                name="find_provider",
                description=(
                    "Look up clinic providers by name and/or specialty. Use it to answer which "
                    "doctors do something, or to resolve a name the caller said."
                ),
                properties={
                    "name": {
                        "type": "string",
                        "description": "Provider name as heard, e.g. 'Dr. Patel' or 'patel'.",
                    },
                    "specialty": {
                        "type": "string",
                        "description": "Specialty, e.g. 'dermatology', 'cardiologist', 'ENT'.",
                    },
                },
                required=[],
            ),
            FunctionSchema(
                name="list_open_slots",
                description=(
                    "List open appointment slots of one provider, earliest first. Offer the "
                    "caller at most three of them."
                ),
                properties={
                    "provider": {
                        "type": "string",
                        "description": "Provider name, e.g. 'Dr. Patel'.",
                    },
                    "day": {
                        "type": "string",
                        "description": (
                            "Optional day: ISO date (2025-12-02), a weekday name ('tuesday'), "
                            "'today' or 'tomorrow'. Omit for the soonest openings."
                        ),
                    },
                    "part_of_day": {
                        "type": "string",
                        "enum": ["morning", "afternoon"],
                        "description": "Optional: only morning or afternoon slots.",
                    },
                },
                required=["provider"],
            ),
            FunctionSchema(
                name="book_appointment",
                description=(
                    "Book an open slot for the caller. Only call this after the caller said yes "
                    "to the provider, day and time."
                ),
                properties={
                    "slot_id": {
                        "type": "integer",
                        "description": "slot_id from list_open_slots.",
                    },
                    "reason": {"type": "string", "description": "Optional reason for the visit."},
                },
                required=["slot_id"],
            ),
            FunctionSchema(
                name="cancel_appointment",
                description=(
                    "Cancel one of the caller's appointments. Only call this after the caller "
                    "confirmed which appointment to cancel."
                ),
                properties={
                    "appointment_id": {
                        "type": "string",
                        "description": "appointment_id from list_my_appointments, e.g. APT-7K3F9Q.",
                    }
                },
                required=["appointment_id"],
            ),
            FunctionSchema(
                name="list_my_appointments",
                description=(
                    "List the caller's upcoming booked appointments. Until the caller is "
                    "identified (verify_identity) only this call's bookings are listed."
                ),
                properties={},
                required=[],
            ),
            *_care_schemas(),
        ]
    )


def _care_schemas() -> list[FunctionSchema]:
    """Function schemas of the care tools (:data:`CARE_TOOL_NAMES`)."""
    day = {"type": "string", "description": "Optional day: ISO date, weekday, 'tomorrow'."}
    part = {"type": "string", "enum": ["morning", "afternoon"], "description": "Optional."}
    return [
        FunctionSchema(
            name="find_earliest_slots",
            description=(
                "Earliest open slots across every provider, or every provider of one specialty "
                "('whoever is free', 'the earliest cardiologist'). Offer at most three."
            ),
            properties={
                "specialty": {"type": "string", "description": "Optional specialty."},
                "day": day,
                "part_of_day": part,
            },
            required=[],
        ),
        FunctionSchema(
            name="reschedule_appointment",
            description=(
                "Move one of the caller's appointments to an open slot in one step (the new slot "
                "is booked and the old one released together). Only after the caller said yes."
            ),
            properties={
                "appointment_id": {"type": "string", "description": "From list_my_appointments."},
                "slot_id": {"type": "integer", "description": "The new slot's slot_id."},
            },
            required=["appointment_id", "slot_id"],
        ),
        FunctionSchema(
            name="request_refill",
            description="Send a prescription refill request to the care team.",
            properties={"medication": {"type": "string", "description": "The medication's name."}},
            required=["medication"],
        ),
        FunctionSchema(
            name="request_handoff",
            description=(
                "Hand the caller to a person: a transfer where the line can, otherwise a "
                "call-back from staff in a time window."
            ),
            properties={
                "reason": {"type": "string", "description": "What the caller needs."},
                "window": {"type": "string", "description": "When to call back, if said."},
            },
            required=[],
        ),
        FunctionSchema(
            name="clinic_info",
            description=(
                "Facts from the clinic's own data: hours, address, visits, insurance, "
                "cancellation or late policy, languages, children. Never answer these from "
                "memory."
            ),
            properties={
                "topic": {"type": "string", "enum": list(clinic_info.TOPICS)},
                "provider": {"type": "string", "description": "Optional provider name."},
                "plan": {"type": "string", "description": "Optional insurance plan name."},
                "day": {"type": "string", "description": "Optional weekday for hours."},
            },
            required=["topic"],
        ),
        FunctionSchema(
            name="verify_identity",
            description=(
                "Identify the caller by full name and date of birth before reading or changing "
                "appointments from earlier calls."
            ),
            properties={
                "full_name": {"type": "string"},
                "date_of_birth": {"type": "string", "description": "ISO date, e.g. 1980-03-14."},
            },
            required=["full_name", "date_of_birth"],
        ),
    ]


TOOLS_SCHEMA = tools_schema()
