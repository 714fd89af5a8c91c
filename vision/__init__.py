"""Images in a call: intake, the offline reader, the spoken answer and the ``read_image`` tool.

Modules: :mod:`vision.images` (intake), :mod:`vision.reader` (OCR reader),
:mod:`vision.answer` (spoken answer), :mod:`vision.tools` (the tool),
:mod:`vision.conversation` (per-call image state), :mod:`vision.processors`,
:mod:`vision.routes` (upload route), :mod:`vision.providers` (model choice) and
:mod:`vision.cli` (``echo-agent look``). The pipeline is :mod:`pipelines.vision`.
"""
