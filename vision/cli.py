"""``echo-agent look IMAGE [--question "..."]``: ask about an image from the command line.

Same intake rules and the same providers as a call: with a vision model endpoint configured
the image and question go to it (one chat completion, the image as a data URL); the local
reader always runs too, and its reading is printed after the answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from config import EchoSettings

DEFAULT_QUESTION = "What does this say?"


def add_commands(subparsers) -> None:
    """Register ``look``."""
    look = subparsers.add_parser("look", help="answer a question about an image")
    look.add_argument("image", type=Path, help="PNG, JPEG, WebP or GIF")
    look.add_argument("--question", default=DEFAULT_QUESTION)
    look.add_argument("--json", action="store_true", help="print one JSON object")
    look.add_argument(
        "--brain",
        action="store_true",
        help="answer through the local clinic brain and its read_image call (loads its "
        "sentence encoder first: slow to start)",
    )
    look.set_defaults(func=run_look)


def run_look(args: argparse.Namespace, settings: EchoSettings) -> int:
    """Read the image, answer the question, print what the reader saw."""
    from vision.answer import describe_reading
    from vision.images import ImageError, prepare, upload_limits
    from vision.providers import select_vision
    from vision.reader import read_image
    from vocabulary import Lexicon

    limits = upload_limits(settings)
    limit = limits["max_bytes"]
    try:
        if args.image.stat().st_size > limit:
            raise ImageError(f"image is larger than the {limit / 2**20:g} MB limit")
        prepared = prepare(
            args.image.read_bytes(),
            source="upload",
            **limits,
        )
    except (OSError, ImageError) as e:
        print(f"echo-agent look: {e}", file=sys.stderr)
        return 2
    lexicon = Lexicon.load(settings.vocabulary_path)
    reading = read_image(
        prepared.pil(), lexicon=lexicon, source="upload", sha256=prepared.ref.sha256
    )
    answer, offer = describe_reading(reading, args.question)
    provider = select_vision(settings)
    if provider == "openai_compatible":
        answer, offer = ask_vision_model(settings, prepared, args.question), None
    elif provider == "anthropic":
        answer, offer = ask_claude(settings, prepared, args.question), None
    elif args.brain:
        answer = asyncio.run(ask_local_brain(settings, lexicon, prepared, args.question))
        provider = "local brain"
    if args.json:
        out = {"provider": provider, "answer": answer, "offer": offer, "reading": reading}
        print(json.dumps({**out, "image": prepared.ref.to_dict()}, indent=2))
        return 0
    print(f"answer ({provider}): {answer}")
    if offer:
        print(f"offer: {json.dumps(offer)}")
    ref = prepared.ref
    print(f"image: {ref.mime} {ref.width}x{ref.height} {ref.byte_size} bytes sha256 {ref.sha256}")
    print(f"local reader saw ({reading['kind']}):")
    for line in reading["lines"] or ["(no text)"]:
        print(f"  {line}")
    for key in ("medications", "specialties", "providers"):
        if reading[key]:
            print(f"{key}: {json.dumps(reading[key])}")
    return 0


async def ask_local_brain(settings: EchoSettings, lexicon, prepared, question: str) -> str:
    """The local brain's spoken answer: it calls ``read_image``, as it does in a call."""
    from datetime import date

    from clinic.cli_chat import respond
    from clinic.dialogue.brain import ClinicBrain
    from clinic.store import ClinicStore
    from runtime import load_vocabulary
    from vision.conversation import VisionConversation, image_message
    from vision.tools import VisionTools

    store = ClinicStore(settings.resolved_clinic_db(), timezone=settings.clinic_timezone)
    store.seed(load_vocabulary(settings), start=date.today())
    brain = ClinicBrain.for_store(store, today=date.today(), vision=True)
    conversation = VisionConversation(settings=settings, lexicon=lexicon)
    conversation.set_current(prepared)
    vision_tools = VisionTools(conversation)

    class Tools:  # read_image here; the brain calls nothing else about an image
        async def call(self, name: str, arguments: dict) -> dict:
            return await vision_tools.read(str(arguments.get("question") or ""))

    message = image_message(prepared, detail=settings.vision_detail)
    message["content"].insert(0, {"type": "text", "text": question})
    return await respond(brain, Tools(), [message])


def ask_vision_model(settings: EchoSettings, prepared, question: str) -> str:
    """One chat completion with the image, from the configured multimodal endpoint."""
    from openai import OpenAI

    from pipelines.vision import VISION_PROMPT
    from vision.conversation import image_message

    client = OpenAI(
        api_key=settings.secret("vision_api_key") or "not-needed",
        base_url=settings.vision_base_url,
    )
    message = image_message(prepared, detail=settings.vision_detail)
    message["content"].append({"type": "text", "text": question})
    reply = client.chat.completions.create(
        model=settings.vision_model,
        messages=[
            {
                "role": "system",
                "content": "You are Echo, a clinic's voice assistant." + VISION_PROMPT,
            },
            message,
        ],
    )
    return (reply.choices[0].message.content or "").strip()


def ask_claude(settings: EchoSettings, prepared, question: str) -> str:
    """One Messages API call with the image, to Claude (``ECHO_VISION_ANTHROPIC_MODEL``)."""
    import base64

    from anthropic import Anthropic

    from pipelines.vision import VISION_PROMPT

    client = Anthropic(
        api_key=settings.secret("anthropic_api_key"), base_url=settings.anthropic_base_url
    )
    image = {
        "type": "image",
        "source": {
            "type": "base64",
            "media_type": prepared.mime,
            "data": base64.b64encode(prepared.data).decode("ascii"),
        },
    }
    with client.messages.stream(
        model=settings.vision_anthropic_model,
        max_tokens=300,
        system="You are Echo, a clinic's voice assistant." + VISION_PROMPT,
        messages=[{"role": "user", "content": [image, {"type": "text", "text": question}]}],
    ) as stream:
        return stream.get_final_text().strip()
