"""Audio devices of the local machine for ``echo-agent talk``: list them, check them first.

Pipecat's ``LocalAudioTransport`` opens PortAudio streams only once the pipeline starts; a
machine without a microphone or speaker then fails deep inside the pipeline. ``talk``
calls :func:`check_devices` first, which opens (and at once closes) the two streams it
will use and raises :class:`AudioDeviceError` naming the problem and the devices there are.
"""

from __future__ import annotations

import os
from contextlib import contextmanager


class AudioDeviceError(RuntimeError):
    """No usable audio input or output device."""


@contextmanager
def _quiet_stderr():
    """Silence the C libraries' stderr chatter (ALSA, JACK) while PortAudio probes."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def describe(devices: list[dict]) -> str:
    """``0 pulse (in 32, out 32); 1 default (…)`` or ``none``."""
    if not devices:
        return "none"
    return "; ".join(
        f"{d['index']} {d['name']} (in {d['maxInputChannels']}, out {d['maxOutputChannels']})"
        for d in devices
    )


def check_devices(
    input_index: int | None = None,
    output_index: int | None = None,
    *,
    in_rate: int = 16000,
    out_rate: int = 24000,
) -> list[dict]:
    """Open and close the input and output streams ``talk`` will use.

    Args:
        input_index: PortAudio input device (None: the default one).
        output_index: PortAudio output device (None: the default one).
        in_rate: Microphone sample rate.
        out_rate: Speaker sample rate.

    Returns:
        The PortAudio devices (``index``, ``name``, channel counts).

    Raises:
        AudioDeviceError: A stream cannot be opened; says which and lists the devices.
    """
    import pyaudio

    with _quiet_stderr():
        audio = pyaudio.PyAudio()
    try:
        devices = [audio.get_device_info_by_index(i) for i in range(audio.get_device_count())]
        hint = (
            f"PortAudio devices: {describe(devices)}. Connect a microphone and speaker "
            "(or start PulseAudio), or pick devices with --input-device / --output-device"
        )
        for kind, index, rate in (
            ("input", input_index, in_rate),
            ("output", output_index, out_rate),
        ):
            channels = "maxInputChannels" if kind == "input" else "maxOutputChannels"
            if index is not None and not any(
                d["index"] == index and d[channels] > 0 for d in devices
            ):  # PortAudio crashes on a device index it does not have
                raise AudioDeviceError(f"there is no audio {kind} device #{index}. {hint}")
            try:
                with _quiet_stderr():
                    stream = audio.open(
                        format=pyaudio.paInt16,
                        channels=1,
                        rate=rate,
                        input=kind == "input",
                        output=kind == "output",
                        input_device_index=index if kind == "input" else None,
                        output_device_index=index if kind == "output" else None,
                        start=False,
                    )
                stream.close()
            except (OSError, ValueError) as e:
                which = "default" if index is None else f"#{index}"
                raise AudioDeviceError(
                    f"cannot open the {which} audio {kind} device ({e}). {hint}"
                ) from e
        return devices
    finally:
        audio.terminate()
