"""The conversation of one Realtime connection: ``conversation.item.*`` events.

:class:`Conversation` is the part of :class:`realtime.server.RealtimeConnection` that adds,
truncates, deletes and retrieves items (the checks are :mod:`realtime.protocol.items`). An
added item's images are checked and read at once (:class:`realtime.images.ImageReadings`);
its audio is transcribed like a committed turn. A truncated assistant item keeps the words
played before the cut.

It uses the connection's ``items``, ``images``, ``words``, ``audio_ms``, ``emit`` and
``_transcribe``.
"""

from __future__ import annotations

import base64
from typing import Any

from realtime.protocol.events import refuse
from realtime.protocol.items import check_item, public_item
from realtime.protocol.spoken import heard_transcript


class Conversation:
    """The conversation's items (a mixin of the connection)."""

    def _find(self, item_id: Any) -> int | None:
        if not isinstance(item_id, str):
            return None
        for i, item in enumerate(self.items):
            if item["id"] == item_id:
                return i
        return None

    def _previous_id(self) -> str | None:
        return self.items[-1]["id"] if self.items else None

    def _require(self, event: dict[str, Any], code: str, message: str) -> int:
        """The index of the item ``event["item_id"]`` names, or a refusal ``code``.

        ``message`` may name the id as ``{item_id}``.
        """
        item_id = event.get("item_id")
        index = self._find(item_id)
        if index is None:
            raise refuse(code, message.format(item_id=item_id), "item_id", event)
        return index

    async def on_item_create(self, event: dict[str, Any]) -> None:
        """Add a message, function call or function call output to the conversation."""
        call_ids = {i["call_id"] for i in self.items if i["type"] == "function_call"}
        item = check_item(event.get("item"), event, call_ids)
        if self._find(item["id"]) is not None:
            raise refuse(
                "item_duplicate_id", f"an item with id '{item['id']}' exists", "item.id", event
            )
        await self.images.add(item, event)  # an unusable image refuses the item
        previous = event.get("previous_item_id")
        if previous is None or previous == "root" and not self.items:
            index = len(self.items)
            previous = self._previous_id()
        elif previous == "root":
            index, previous = 0, None
        else:
            found = self._find(previous)
            if found is None:
                raise refuse(
                    "previous_item_not_found",
                    f"previous_item_id '{previous}' is not in the conversation",
                    "previous_item_id",
                    event,
                )
            index = found + 1
        self.items.insert(index, item)
        await self.emit(
            "conversation.item.added", previous_item_id=previous, item=public_item(item)
        )
        audio_parts = [p for p in item.get("content") or [] if p.get("audio")]
        if audio_parts:
            pcm = base64.b64decode(audio_parts[0]["audio"])
            self._transcribe(item, pcm)
        else:
            await self.emit(
                "conversation.item.done", previous_item_id=previous, item=public_item(item)
            )

    async def on_item_truncate(self, event: dict[str, Any]) -> None:
        """Cut an assistant audio item at ``audio_end_ms`` (what the user actually heard)."""
        item_id = event.get("item_id")
        index = self._find(item_id)
        if index is None or self.items[index].get("role") != "assistant":
            raise refuse(
                "item_truncate_invalid_item_id",
                f"no assistant audio item '{item_id}' to truncate",
                "item_id",
                event,
            )
        end = event.get("audio_end_ms")
        if isinstance(end, bool) or not isinstance(end, int) or end < 0:
            raise refuse(
                "invalid_value",
                "'audio_end_ms' must be a whole number of ms",
                "audio_end_ms",
                event,
            )
        item = self.items[index]
        end = min(end, self.audio_ms.get(item_id, end))
        heard = heard_transcript(self.words.get(item_id, []), end)
        for part in item.get("content") or []:
            if part.get("type") == "output_audio":
                part["transcript"] = heard
        await self.emit(
            "conversation.item.truncated",
            item_id=item_id,
            content_index=int(event.get("content_index") or 0),
            audio_end_ms=end,
        )

    async def on_item_delete(self, event: dict[str, Any]) -> None:
        """Remove an item from the conversation."""
        index = self._require(event, "item_delete_invalid_item_id", "no item '{item_id}' to delete")
        del self.items[index]
        await self.emit("conversation.item.deleted", item_id=event["item_id"])

    async def on_item_retrieve(self, event: dict[str, Any]) -> None:
        """Send back one item."""
        index = self._require(event, "item_retrieve_invalid_item_id", "no item '{item_id}'")
        await self.emit("conversation.item.retrieved", item=public_item(self.items[index]))
