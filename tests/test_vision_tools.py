"""The ``read_image`` tool handler, called the way Pipecat calls it, without a pipeline."""

import pytest
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.services.llm_service import FunctionCallParams

from tests.vision_drawings import encoded, error_dialog, pill_label, referral_letter
from vision.conversation import VisionConversation
from vision.images import prepare
from vision.tools import READ_IMAGE_SCHEMA, VisionTools
from vocabulary import Lexicon


@pytest.fixture(scope="module")
def lexicon():
    from config import EchoSettings

    return Lexicon.load(EchoSettings(_env_file=None).vocabulary_path)


@pytest.fixture
def tools(settings, lexicon):
    return VisionTools(VisionConversation(settings=settings, lexicon=lexicon, camera=False))


async def call(tools, question: str) -> dict:
    results = []

    async def result_callback(result, **_):
        results.append(result)

    params = FunctionCallParams(
        function_name="read_image",
        tool_call_id="call_test",
        arguments={"question": question},
        llm=None,
        pipeline_worker=None,
        context=LLMContext(),
        result_callback=result_callback,
    )
    await tools.handle_function_call(params)
    (result,) = results
    return result


def test_schema_is_a_pipecat_function_schema():
    assert READ_IMAGE_SCHEMA.name == "read_image"
    assert READ_IMAGE_SCHEMA.required == ["question"]
    assert "question" in READ_IMAGE_SCHEMA.to_default_dict()["parameters"]["properties"]


async def test_no_image_and_no_camera_are_said_plainly(tools):
    result = await call(tools, "What does this say?")
    assert result["ok"] is False and result["error"] == "no_image"
    assert "upload" in result["answer"].lower() and result["offer"] is None
    result = await call(tools, "Can you see my camera?")
    assert result["error"] == "no_camera" and "camera" in result["answer"].lower()


async def test_upload_then_follow_ups_then_a_new_image(tools):
    conv = tools.conversation
    label = prepare(encoded(pill_label()), source="upload")
    await conv.add_upload(label)  # no pipeline: state only
    result = await call(tools, "Can you read the label?")
    assert result["sha256"] == label.ref.sha256 and result["source"] == "upload"
    assert result["kind"] == "medication_label"
    assert result["offer"] == {"action": "refill", "medication": "Metformin"}
    assert "Metformin 500 mg" in result["answer"]

    follow_up = await call(tools, "And what about the third line?")
    assert follow_up["sha256"] == label.ref.sha256  # the same image, read once (cached)
    assert "METFORMIN" in follow_up["answer"]

    letter = prepare(encoded(referral_letter(), "JPEG"), source="upload")
    await conv.add_upload(letter)
    result = await call(tools, "Who should I book with?")
    assert result["sha256"] == letter.ref.sha256
    assert result["offer"] == {"action": "book", "specialty": "Dermatology"}
    assert [h["sha256"] for h in conv.history] == [label.ref.sha256, letter.ref.sha256]


async def test_error_screenshot(tools):
    await tools.conversation.add_upload(prepare(encoded(error_dialog()), source="upload"))
    result = await call(tools, "What does this error on my screen mean?")
    assert result["kind"] == "error_message"
    assert "0x80070005" in result["error_text"]
    assert result["answer"].startswith("It's an error message")


def test_registry_lists_vision_and_its_needs(settings):
    import pipelines
    from vision.providers import describe_vision, select_vision

    listed = {p["name"]: p for p in pipelines.availability(settings)}
    assert listed["vision"]["available"] is True and listed["vision"]["missing"] == []
    assert select_vision(settings) == "local"
    assert describe_vision(settings)["provider"] == "local"
    named = settings.model_copy(update={"vision_provider": "openai_compatible"})
    assert pipelines.get_variant("vision").requirements(named) == ["ECHO_VISION_BASE_URL"]
    ollama = settings.model_copy(update={"vision_base_url": "http://127.0.0.1:11434/v1"})
    assert select_vision(ollama) == "openai_compatible"  # a URL alone selects it (auto)


def test_look_command_answers_and_shows_what_the_reader_saw(tmp_path, capsys):
    from cli import main as cli_main

    image = tmp_path / "label.webp"
    image.write_bytes(encoded(pill_label(), "WEBP"))
    assert cli_main(["look", str(image), "--question", "Can you read this label?"]) == 0
    out = capsys.readouterr().out
    assert "The label says Metformin 500 mg" in out
    assert "METFORMIN HCL 500 MG TABLETS" in out and '"action": "refill"' in out
    notes = tmp_path / "notes.png"  # a name that lies: the bytes decide
    notes.write_bytes(b"just some text, not a picture")
    assert cli_main(["look", str(notes)]) == 2
    assert "PNG, JPEG, WebP or GIF" in capsys.readouterr().err


def test_same_scene_compares_frames_coarsely():
    from pipecat.frames.frames import UserImageRawFrame

    from tests.vision_drawings import skin_photo
    from vision.images import same_scene

    def frame(img):
        return UserImageRawFrame(image=img.tobytes(), size=img.size, format="RGB")

    a = error_dialog(size=(320, 180))
    noisy = a.point(lambda v: min(255, v + 3))  # codec noise, same scene
    assert same_scene(frame(a), frame(noisy))
    assert not same_scene(frame(a), frame(skin_photo(size=(320, 180))))
    assert not same_scene(frame(a), frame(error_dialog(size=(640, 360))))


class Submitted:
    """An audit recorder stand-in that keeps what it was given."""

    def __init__(self):
        self.records = []

    def submit(self, kind, body):
        self.records.append((kind, body))


async def test_images_are_kept_only_when_asked_and_purged_after_retention(settings, lexicon):
    import hashlib
    import os
    import time

    from audit.audio import purge_kept

    data = encoded(pill_label(), "PNG")
    for keep in (False, True):
        audit = Submitted()
        conv = VisionConversation(
            settings=settings.model_copy(update={"audit_keep_images": keep}),
            lexicon=lexicon,
            audit=audit,
            session_id="sess/../1",
            to_model=True,  # no reading started: only the record is about
        )
        await conv.add_upload(prepare(data, source="upload"))
        (kind, body), *_ = audit.records
        assert kind == "image" and body["image"]["sha256"] == hashlib.sha256(data).hexdigest()
        if not keep:
            assert "kept" not in body and not settings.audit_images_dir().exists()
            continue
        path = settings.audit_images_dir() / body["kept"]["file"]
        assert path.parent.parent == settings.audit_images_dir()  # no escape from the folder
        assert hashlib.sha256(path.read_bytes()).hexdigest() == body["kept"]["sha256"]
        old = time.time() - 3 * 86400
        os.utime(path, (old, old))
        assert purge_kept(settings.audit_images_dir(), "*/*.*", retention_days=5) == 0
        assert purge_kept(settings.audit_images_dir(), "*/*.*", retention_days=2) == 1
        assert not path.exists()
