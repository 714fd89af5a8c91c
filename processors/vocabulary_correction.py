"""Pipecat adapter for the vocabulary corrector (``vocabulary.correct``)."""

from __future__ import annotations

from loguru import logger
from pipecat.frames.frames import Frame, TranscriptionFrame
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from clinic.dialogue.transcript import last_assistant_text
from vocabulary import DEFAULT_THRESHOLD, ConversationContext, Lexicon, correct

RAW_TEXT_KEY = "echo.raw_text"
CORRECTIONS_KEY = "echo.corrections"


class VocabularyCorrectionProcessor(FrameProcessor):
    """Corrects vocabulary terms in final transcriptions, in place.

    For each :class:`TranscriptionFrame` the text is replaced by the corrected text (the
    frame keeps its ``user_id``, ``timestamp`` and ``id``), and the frame's metadata gets
    ``echo.raw_text`` (the text as the STT produced it) and ``echo.corrections`` (one
    ``Change.to_dict()`` per replacement, possibly empty) for the audit log. Every frame,
    corrected or not, is pushed on; nothing else is pushed. A frame that already carries
    ``echo.raw_text`` is not corrected twice.

    With the conversation's ``context``, the bot's last line sets what the answer is
    likely to name (:class:`vocabulary.ConversationContext`): "Kowalczyk, please." after
    "Doctor Kowalczyk or Doctor Patel?" is corrected with no title before the name.
    """

    def __init__(
        self,
        *,
        lexicon: Lexicon,
        threshold: float = DEFAULT_THRESHOLD,
        context: LLMContext | None = None,
        **kwargs,
    ):
        """Initialize the processor.

        Args:
            lexicon: The deployment vocabulary.
            threshold: Corrector threshold (see ``vocabulary.correct``).
            context: The conversation, read for the bot's last line (None: not used).
            **kwargs: Passed to ``FrameProcessor``.
        """
        super().__init__(**kwargs)
        self._lexicon = lexicon
        self._threshold = threshold
        self._context = context

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """Correct final transcriptions; pass every frame through."""
        await super().process_frame(frame, direction)
        if isinstance(frame, TranscriptionFrame) and RAW_TEXT_KEY not in frame.metadata:
            self._correct(frame)
        await self.push_frame(frame, direction)

    def _correct(self, frame: TranscriptionFrame) -> None:
        try:
            said = ConversationContext.from_bot_text(self._bot_line(), self._lexicon)
            result = correct(frame.text, self._lexicon, threshold=self._threshold, context=said)
        except Exception as exc:  # noqa: BLE001 - never lose the user's words
            logger.error(f"{self}: vocabulary correction failed ({type(exc).__name__})")
            return
        frame.metadata[RAW_TEXT_KEY] = frame.text
        frame.metadata[CORRECTIONS_KEY] = [change.to_dict() for change in result.changes]
        if result.changes:
            logger.debug(
                f"{self}: {len(result.changes)} vocabulary correction(s) in frame {frame.id}"
            )
            frame.text = result.text

    def _bot_line(self) -> str:
        """The text of the conversation's last assistant message ("" if none)."""
        if self._context is None:
            return ""
        return last_assistant_text(self._context.get_messages())
