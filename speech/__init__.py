"""Speech recognition: the Whisper decode, the vocabulary-biased second pass, the service.

* :mod:`speech.whisper`: faster-whisper in a short mel window, Whisper's silence rule;
* :mod:`speech.biasing`: hotwords from the vocabulary for a second pass, each term it
  writes checked against the audio;
* :mod:`speech.passes`: whether the biased pass's text is still the same utterance;
* :mod:`speech.transcriber`: :class:`~speech.transcriber.Transcriber`, the one path the
  service, ``echo-agent transcribe`` and ``eval-vocab`` share;
* :mod:`speech.service`: ``EchoWhisperSTTService``, the Pipecat STT service on it;
* ``echo-agent compare-stt`` / ``compare-tts`` (:mod:`speech.cli`, :mod:`speech.compare`,
  :mod:`speech.compare_tts`): every available STT / TTS on the same clips or sentences.

The vocabulary itself (terms, spoken forms, correction) is :mod:`vocabulary`.
"""
