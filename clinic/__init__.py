"""Echo's clinic: the booking store, the tools an LLM calls, and the local brain.

The store (``store.py``, ``store_records.py``, ``store_transactions.py``, ``care.py``) and the
tools (``tools.py``, ``tools_care.py``, ``tool_schemas.py``, ``tool_args.py``) serve any LLM.
The local brain that stands in for one is three subpackages: :mod:`clinic.understanding`
(what the caller said), :mod:`clinic.dialogue` (what to do next) and :mod:`clinic.wording`
(every sentence it says).
"""
