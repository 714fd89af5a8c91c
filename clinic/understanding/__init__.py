"""Understanding callers: speech-to-text output to intents, meanings, slots and entities.

Plain functions (and one sentence-embedding classifier) with no dialogue state: the dialogue
policy (:mod:`clinic.dialogue`) decides what to do with what is found here.
"""
