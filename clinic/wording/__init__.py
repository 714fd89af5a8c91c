"""How the local brain speaks: every sentence the caller hears, and values said aloud.

The dialogue policy (:mod:`clinic.dialogue`) decides; :mod:`clinic.wording.phrases` holds its
sentences and :mod:`clinic.wording.spoken` says dates, times, providers and appointments.
"""
