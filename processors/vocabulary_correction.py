"""Pipecat adapter for the vocabulary corrector (``vocabulary.correct``)."""

from __future__ import annotations

from loguru import logger
from pipecat.frames.frames import Frame, TranscriptionFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from vocabulary import DEFAULT_THRESHOLD, Lexicon, correct

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
    """

    def __init__(self, *, lexicon: Lexicon, threshold: float = DEFAULT_THRESHOLD, **kwargs):
        """Initialize the processor.

        Args:
            lexicon: The deployment vocabulary.
            threshold: Corrector threshold (see ``vocabulary.correct``).
            **kwargs: Passed to ``FrameProcessor``.
        """
        super().__init__(**kwargs)
        self._lexicon = lexicon
        self._threshold = threshold

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """Correct final transcriptions; pass every frame through."""
        await super().process_frame(frame, direction)
        if isinstance(frame, TranscriptionFrame) and RAW_TEXT_KEY not in frame.metadata:
            self._correct(frame)
        await self.push_frame(frame, direction)

    def _correct(self, frame: TranscriptionFrame) -> None:
        try:
            result = correct(frame.text, self._lexicon, threshold=self._threshold)
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
