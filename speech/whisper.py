"""The Whisper decode Echo's speech recognition is built on (faster-whisper, CTranslate2).

:class:`WhisperDecoder` runs the encoder once on a short log-mel window (Whisper's own is
30 s; an utterance of a few seconds decodes much faster in ``pad_seconds``), then greedy or
beam decoding passes over that output, optionally with hotwords and a forced prefix; audio
over 30 s goes to faster-whisper's long-form path. :func:`is_no_speech` is Whisper's own
silence rule. The vocabulary-biased second pass built on it is :mod:`speech.biasing`.
"""

from __future__ import annotations

import time
import zlib
from typing import Any

import numpy as np

SAMPLE_RATE = 16000
FRAMES_PER_SECOND = 100
WHISPER_WINDOW = 30.0
# Whisper's own silence rule (openai/whisper, faster-whisper): a decode is "no speech" when
# the no-speech probability is high *and* the words are unsure (mean token log-prob below
# this). The probability alone drops short real utterances: "That's all." after a pause
# scores 0.44-0.67 with a mean log-prob of -0.25 to -0.75; noise scores -1.5 to -2.2.
NO_SPEECH_LOGPROB = -1.0


class WhisperDecoder:
    """A faster-whisper model decoded in a short mel window.

    Args:
        model_dir: CTranslate2 Whisper model directory (see :func:`models.whisper_model_dir`),
            or an already loaded ``faster_whisper.WhisperModel`` to share.
        compute_type: CTranslate2 compute type ("int8" on CPU).
        pad_seconds: Mel window for utterances that fit in it (≤ 30).
        no_speech_threshold: Drop the text when Whisper's no-speech probability reaches
            this and the decode is unsure (``is_no_speech``; Pipecat's WhisperSTTService
            drops on the probability alone, which loses short real utterances).
        cpu_threads: CTranslate2 intra-op threads (0: its default).
        device: "cpu" or "auto".
    """

    def __init__(
        self,
        model_dir: str | Any,
        *,
        compute_type: str = "int8",
        pad_seconds: float = 10.0,
        no_speech_threshold: float = 0.4,
        cpu_threads: int = 0,
        device: str = "cpu",
    ):
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        if not 1.0 <= pad_seconds <= WHISPER_WINDOW:
            raise ValueError(f"pad_seconds must be between 1 and 30, got {pad_seconds}")
        if isinstance(model_dir, str):
            model_dir = WhisperModel(
                model_dir, device=device, compute_type=compute_type, cpu_threads=cpu_threads
            )
        self.model = model_dir
        self.pad_seconds = float(pad_seconds)
        self.no_speech_threshold = no_speech_threshold
        self._tokenizer = Tokenizer(
            self.model.hf_tokenizer,
            self.model.model.is_multilingual,
            task="transcribe",
            language="en",
        )
        self._suppress = list(get_suppressed_tokens(self._tokenizer, [-1]))

    # --- stages -----------------------------------------------------------------------

    def window_seconds(self, duration: float) -> float:
        """Mel window used for audio of ``duration`` seconds."""
        needed = duration + 0.5
        return self.pad_seconds if needed <= self.pad_seconds else WHISPER_WINDOW

    def _encode(self, audio: np.ndarray, timings: dict[str, float]):
        t0 = time.perf_counter()
        features = self.model.feature_extractor(audio)
        frames = int(self.window_seconds(len(audio) / SAMPLE_RATE) * FRAMES_PER_SECOND)
        features = features[:, :frames]
        if features.shape[1] < frames:
            features = np.pad(features, ((0, 0), (0, frames - features.shape[1])))
        t1 = time.perf_counter()
        encoded = self.model.encode(features)
        t2 = time.perf_counter()
        timings["features"] = (t1 - t0) * 1000
        timings["encode"] = (t2 - t1) * 1000
        return encoded

    def _decode(
        self,
        encoded,
        beam: int,
        hotwords: str | None,
        max_new_tokens: int = 200,
        prefix: list[int] | None = None,
    ) -> tuple[str, list[int]]:
        """Decode the encoder output; returns the text and its tokens.

        ``prefix`` tokens are forced at the start of the transcript (the decoder continues
        after them, and they are part of the result): the biased pass reuses the first
        pass's words before the first candidate term instead of decoding them again.
        """
        prompt = self.model.get_prompt(
            self._tokenizer, [], without_timestamps=True, hotwords=hotwords
        )
        prefix = list(prefix or [])
        options = {
            "length_penalty": 1.0,
            "max_length": min(self.model.max_length, len(prompt) + len(prefix) + max_new_tokens),
            "return_scores": True,
            "return_no_speech_prob": True,
            "suppress_blank": not prefix,
            "suppress_tokens": self._suppress,
            "beam_size": beam,
        }
        result = self.model.model.generate(encoded, [prompt + prefix], **options)[0]
        tokens = list(result.sequences_ids[0])
        text = self._tokenizer.decode(tokens).strip()
        if _compression_ratio(text) > 2.4:  # a repetition loop: decode again without it
            result = self.model.model.generate(
                encoded, [prompt + prefix], no_repeat_ngram_size=3, **options
            )[0]
            tokens = list(result.sequences_ids[0])
            text = self._tokenizer.decode(tokens).strip()
        length = len(tokens)
        mean_logprob = result.scores[0] * length ** options["length_penalty"] / (length + 1)
        if is_no_speech(text, result.no_speech_prob, mean_logprob, self.no_speech_threshold):
            return "", []
        return text, tokens

    def _prefix_tokens(self, tokens: list[int], text: str, cut: int) -> list[int]:
        """The longest run of ``tokens`` (which decode to ``text``) ending before ``cut``.

        Only whole words are kept: the run stops at the last token that ends a word
        before the character offset ``cut`` of ``text``.
        """
        keep = 0
        for k in range(1, len(tokens) + 1):
            piece = self._tokenizer.decode(tokens[:k]).strip()
            if len(piece) > cut or not text.startswith(piece):
                break
            nxt = text[len(piece) : len(piece) + 1]
            if nxt in ("", " "):
                keep = k
        return tokens[:keep]

    def _long_form(self, audio: np.ndarray, hotwords: str | None) -> str:
        segments, _ = self.model.transcribe(
            audio, language="en", beam_size=self.beam_size, hotwords=hotwords
        )
        return " ".join(
            s.text.strip()
            for s in segments
            if not is_no_speech(s.text, s.no_speech_prob, s.avg_logprob, self.no_speech_threshold)
        ).strip()


def is_no_speech(
    text: str,
    no_speech_prob: float,
    mean_logprob: float,
    threshold: float,
    logprob_threshold: float = NO_SPEECH_LOGPROB,
) -> bool:
    """Whether a Whisper decode is silence or noise rather than words, and is dropped.

    Whisper's rule: the no-speech probability reaches ``threshold`` and the decode is
    unsure (mean token log-prob below ``logprob_threshold``). A decode with no letter or
    digit (Whisper writes "." for silence) is no speech either.

    Args:
        text: The decoded text.
        no_speech_prob: Whisper's probability of the no-speech token at the start.
        mean_logprob: Mean log-probability of the decoded tokens (Whisper's avg_logprob).
        threshold: No-speech probability from which an unsure decode is dropped.
        logprob_threshold: Mean log-prob under which a decode counts as unsure.
    """
    if not any(c.isalnum() for c in text):
        return True
    return no_speech_prob >= threshold and mean_logprob < logprob_threshold


def _compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    if not data:
        return 0.0
    return len(data) / len(zlib.compress(data))
