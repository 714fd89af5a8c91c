"""What a caller wants, by meaning: a nearest-example classifier over sentence embeddings.

Each label has a handful of example requests written for this module (never taken from an
evaluation set). A caller's sentence is embedded with :class:`clinic.encoder.SentenceEncoder`
and gets the label of its most similar examples (cosine similarity, the mean of the two best
per label); below :data:`MIN_SIMILARITY` it gets none. A paraphrase of a request that no rule
anticipated still lands near its examples, which is the point: the rule-based parsers in
:mod:`clinic.nlu` keep the details (days, times, names, choices), this decides the task.

Safety does not depend on the model alone: :func:`red_flag` also matches red-flag symptom
phrases (chest pain, can't breathe, unresponsive, stroke signs, suicidal thoughts, severe
bleeding), and either signal triggers the emergency answer.

Also here: lay complaint words to a specialty (:func:`complaint_specialty`) and the text cue
of frustration (:func:`frustration_score`, VADER's lexicon plus the classifier).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

MIN_SIMILARITY = 0.42  # below it no label; set on the dev callers (docs/brain.md)
COMPLAINTS_PATH = Path(__file__).resolve().parent / "data" / "complaints.json"

EXAMPLES: dict[str, tuple[str, ...]] = {
    "book": (
        "I'd like to make an appointment",
        "Can I schedule a visit with a doctor",
        "I want to see a doctor next week",
        "I need to book a checkup",
        "Is the doctor free on Friday",
        "Could I come in on Tuesday afternoon",
        "Does she have any time tomorrow",
        "I'd like an appointment with my physician",
    ),
    "earliest": (
        "What's the first available appointment with anyone",
        "Whoever can see me soonest",
        "I don't care which doctor, just the earliest opening",
        "Any doctor is fine, what do you have open",
        "Give me the next available provider",
        "What's the soonest I can get in",
    ),
    "cancel": (
        "I need to cancel my appointment",
        "Please call off my visit",
        "I can't come anymore, cancel it",
        "Remove my booking from the calendar",
        "I won't make it, please cancel",
    ),
    "reschedule": (
        "I need to change the time of my appointment",
        "Can we move my visit to another day",
        "I'd like to reschedule",
        "Push my appointment back a week",
        "Can I switch my booking to a different time",
    ),
    "list": (
        "When is my next appointment",
        "Do I have any appointments scheduled",
        "Can you remind me when my visit is",
        "What do I have booked with you",
        "Check my upcoming bookings",
        "When am I supposed to come in next",
        "What day do I see my doctor",
    ),
    "providers": (
        "Which doctors do you have",
        "Who are your dermatologists",
        "Do you have a pediatrician",
        "What kind of specialists work at the clinic",
    ),
    "symptom": (
        "My back hurts, who should I see",
        "I have a rash on my arm",
        "I've had headaches for weeks",
        "My stomach has been upset, which doctor",
        "I keep coughing at night",
        "I need someone to look at my eyes",
        "Who treats joint pain",
    ),
    "refill": (
        "I need a refill of my prescription",
        "Can you renew my medication",
        "I'm running out of my pills",
        "Please send my prescription to the pharmacy",
        "I need more of my medicine",
        "My prescription ran out",
    ),
    "handoff": (
        "Let me talk to a human",
        "Can I speak to someone at the office",
        "Connect me with a receptionist",
        "I want a real person",
        "Put me through to a nurse",
        "Transfer me to an operator",
        "I want to talk to a representative",
    ),
    "callback": (
        "Can someone call me back",
        "Please have the office phone me later",
        "I'd like a call back tomorrow",
        "Have a nurse give me a call",
        "Ask someone to ring me this evening",
    ),
    "info_hours": (
        "When are you open",
        "What are your hours",
        "Are you open on weekends",
        "What time do you close today",
        "Are you open late on Thursdays",
        "What time does the office open in the morning",
    ),
    "info_address": (
        "Where is the clinic",
        "What's your address",
        "How do I get to your office",
        "Where are you located",
    ),
    "info_insurance": (
        "Do you accept my insurance",
        "Which insurance plans do you take",
        "Is Cigna accepted",
        "Will my plan cover the visit",
        "Do you take Medicaid",
    ),
    "info_cancellation": (
        "Is there a fee for canceling",
        "What's your cancellation policy",
        "What if I don't show up to my appointment",
        "How much notice do I need to give to cancel",
    ),
    "late": (
        "I'm running late",
        "I'll be a few minutes late for my appointment",
        "What happens if I arrive late",
        "I'm going to be late, is that okay",
        "The bus is delayed, I'll get there after my time",
    ),
    "info_languages": (
        "Do you have doctors who speak Spanish",
        "Does anyone there speak French",
        "What languages are spoken at the clinic",
        "Is there an interpreter",
        "Does the doctor speak Chinese",
    ),
    "info_children": (
        "Does the doctor treat kids",
        "Can my child be seen by her",
        "Does he see babies",
    ),
    "info_telehealth": (
        "Can I do a video visit",
        "Do you offer virtual appointments",
        "Is the visit online or in person",
        "Does she do appointments over video",
        "Does the doctor offer telehealth",
    ),
    "info_other": (
        "Is there parking at the clinic",
        "Can I bring someone with me",
        "Do I need to fast before my blood test",
        "How long does a visit usually take",
        "How do I get a copy of my records",
        "Is there a wheelchair ramp",
    ),
    "emergency": (
        "I can't breathe",
        "I'm having chest pain",
        "Someone fainted and won't wake up",
        "I think I'm having a heart attack",
        "He's bleeding a lot and it won't stop",
        "I want to kill myself",
        "Her throat is closing up from an allergic reaction",
        "My father's speech is suddenly slurred",
        "She took too many pills",
    ),
    "frustration": (
        "This is so frustrating",
        "You're useless",
        "I already told you that",
        "Why is this so hard",
        "You keep getting it wrong",
        "I'm fed up with this",
        "I've been waiting for ages and I'm angry",
        "I've been stuck on hold for so long",
        "I'm really annoyed with this service",
        "You don't understand me",
        "That's not what I said",
        "You're not helping me",
    ),
    "greeting": ("Hi", "Hello there", "Good afternoon", "Hey, how are you"),
    "thanks": ("Thank you", "Thanks a lot", "I appreciate it"),
    "goodbye": (
        "Bye",
        "That's all, thank you",
        "Nothing else, goodbye",
        "I'm done, thanks",
        "That will be everything",
    ),
    "help": ("What can you do", "What can I ask you", "How does this work"),
    "device": (
        "I can't hear you well",
        "Can you speak up",
        "Could you talk slower",
        "Make it louder",
    ),
    "out_of_scope": (
        "What's the weather like",
        "Tell me a joke",
        "Who is the president",
        "Play some music",
        "What's the capital of Spain",
        "Write me a poem",
        "How do I bake bread",
        "What's the stock price of Apple",
        "Set an alarm for seven",
        "Translate this into German",
        "Book me a flight to Chicago",
        "Order me a taxi",
        "Read my text messages",
    ),
}

# Red-flag phrases, by the usual emergency categories (breathing, consciousness, heart, stroke,
# seizure, severe bleeding, poisoning or overdose, anaphylaxis, suicide or self-harm); matched on
# normalized text, any one is enough (high recall by design).
_SELF_HARM_WORDS = (
    r"suicid\w*|kill (?:myself|himself|herself)|end(?:ing)? (?:my|his|her) (?:own )?life|"
    r"take (?:my|his|her) own life|end it all|better off dead|"
    r"(?:don'?t|do not) want to (?:be alive|live|be here)|want to die|"
    r"hurt(?:ing)? (?:myself|himself|herself)|self ?harm"
)
_SELF_HARM = re.compile(rf"\b(?:{_SELF_HARM_WORDS})\b")
_RED_FLAGS = re.compile(
    r"\b(?:"
    # breathing
    r"can'?t (?:breathe|breath|catch (?:my|his|her) breath)|cannot breathe|not breathing|"
    r"stopped breathing|struggling to breathe|gasping|turning blue|(?:lips|face) (?:are |is )?"
    r"(?:turning )?blue|choking|"
    # consciousness
    r"un ?responsive|unconscious|not responding|won'?t wake up|can'?t wake (?:him|her|them)|"
    r"passed out|collapsed|fainted|"
    # heart
    r"chest (?:pain|pains|hurts|tightness|pressure)|heart attack|"
    # stroke
    r"stroke|face (?:is )?(?:drooping|numb)|slurred|numb on one side|"
    r"can'?t (?:move|lift|feel) (?:my|his|her) (?:arm|leg|face)|"
    # seizure
    r"seizure|seizing|convulsing|fitting|"
    # bleeding
    r"(?:bleeding|blood) (?:a lot|heavily|badly|everywhere|won'?t stop|that won'?t stop)|"
    r"blood everywhere|bleeding out|severe bleeding|"
    # poisoning, overdose
    r"overdos\w*|too many (?:pills|tablets)|took (?:way )?too (?:much|many)|"
    r"swallowed (?:a |the |some |his |her |my )?(?:whole )?(?:bottle of |pack of )?"
    r"(?:pills|tablets|poison|bleach|chemicals|medicine|medication|battery|batteries)|"
    r"poisoned|"
    # anaphylaxis
    r"throat (?:is )?(?:closing|swelling)|can'?t swallow|"
    # suicide, self-harm
    rf"{_SELF_HARM_WORDS}"
    r")\b"
)


_CALLBACK_CUE = re.compile(
    r"\b(?:(?:call|phone|ring) (?:me|us|him|her)(?: back)?|call ?back|"
    r"give (?:me|us) a (?:call|ring)|get back to me)\b"
)
_INSURANCE_WORDS = re.compile(
    r"\b(?:insurance|insurer|coverage|covered|copay|co-pay|in network|out of network|"
    r"medicare|medicaid|hmo|ppo)\b"
)
_PROVIDER_QUESTION = re.compile(
    r"^(?:(?:so|and|um|uh|hi|hey|also)\s+)*(?:does|do|is|can|will|would) (?:doctor|dr)\b"
)
_AVAILABILITY = re.compile(
    r"\b(?:available|availability|free|open|opening|openings|time|anything|slots?|"
    r"appointments? (?:on|this|next|tomorrow)|see me|fit me in|book)\b"
)


def asks_callback(normalized_text: str) -> bool:
    """Whether the words ask to be called back ("have someone call me", "give me a ring")."""
    return bool(_CALLBACK_CUE.search(normalized_text))


def mentions_insurance(normalized_text: str, plans: list[str]) -> bool:
    """Insurance words, or a plan the clinic lists (each name's distinctive words)."""
    if _INSURANCE_WORDS.search(normalized_text):
        return True
    words = {w for plan in plans for w in re.findall(r"[a-z]{4,}", plan.lower())}
    words -= {"blue", "cross", "shield", "care", "health"}  # too common alone
    return any(re.search(rf"\b{re.escape(w)}\b", normalized_text) for w in words)


def provider_question(normalized_text: str) -> bool:
    """A yes/no question about a provider that is not about their openings.

    "Does Doctor Lee speak Korean?" or "Is Doctor Lee taking video visits?" ask for a fact;
    "Does Doctor Lee have time Monday?" asks for openings.
    """
    return bool(_PROVIDER_QUESTION.search(normalized_text)) and not _AVAILABILITY.search(
        normalized_text
    )


def self_harm(normalized_text: str) -> bool:
    """Whether the (normalized) words speak of suicide or self-harm (one group of red flags)."""
    return bool(_SELF_HARM.search(normalized_text))


def red_flag(normalized_text: str) -> bool:
    """Whether the (normalized) words name a red-flag symptom."""
    return bool(_RED_FLAGS.search(normalized_text))


@dataclass(frozen=True)
class Meaning:
    """The label of one sentence and how sure: ``score`` and the runner-up's."""

    label: str | None
    score: float
    runner_up: str | None = None
    runner_up_score: float = 0.0


class IntentClassifier:
    """Nearest-example intent labels over sentence embeddings.

    Args:
        encoder: Anything with ``encode(list[str]) -> (n, d)`` unit vectors.
        examples: Label → example sentences (default :data:`EXAMPLES`).
        cache_dir: Where to keep the examples' embeddings between runs (keyed by content).
    """

    def __init__(self, encoder, *, examples=None, cache_dir: Path | None = None):
        self.encoder = encoder
        self.examples = dict(examples or EXAMPLES)
        self.labels: list[str] = []
        texts: list[str] = []
        for label, sentences in self.examples.items():
            for sentence in sentences:
                self.labels.append(label)
                texts.append(sentence)
        self._label_array = np.array(self.labels)
        self._matrix = self._embed_examples(texts, cache_dir)

    def _embed_examples(self, texts: list[str], cache_dir: Path | None) -> np.ndarray:
        """The examples' embeddings, from a content-addressed cache when one is there.

        Looked up in ``cache_dir`` and in the machine's temp directory (shared by every
        data directory, e.g. the test suite's), written to both.
        """
        import tempfile

        digest = hashlib.sha256(json.dumps(texts).encode()).hexdigest()[:16]
        name = f"intent-examples-{digest}.npy"
        dirs = [Path(d) for d in (cache_dir, Path(tempfile.gettempdir()) / "echo-intents") if d]
        for directory in dirs:
            try:
                matrix = np.load(directory / name)
            except (OSError, ValueError):
                continue
            if matrix.shape == (len(texts), 384):
                return matrix
        matrix = self.encoder.encode(texts)
        for directory in dirs:
            try:
                directory.mkdir(parents=True, exist_ok=True)
                np.save(directory / f".{name}.{id(self)}.npy", matrix)
                (directory / f".{name}.{id(self)}.npy").replace(directory / name)
            except OSError:
                pass
        return matrix

    def classify(self, text: str) -> Meaning:
        """The label of ``text`` (None below :data:`MIN_SIMILARITY`)."""
        if not text.strip():
            return Meaning(None, 0.0)
        sims = self._matrix @ self.encoder.encode([text])[0]
        scores: dict[str, float] = {}
        for label in self.examples:
            top = np.sort(sims[self._label_array == label])[-2:]
            scores[label] = float(top.mean())
        ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
        (best, score), (second, second_score) = ranked[0], ranked[1]
        return Meaning(best if score >= MIN_SIMILARITY else None, score, second, second_score)


@lru_cache(maxsize=1)
def default_classifier(cache_dir: str | None = None) -> IntentClassifier:
    """One shared classifier on the bundled encoder (loaded once per process)."""
    from clinic.encoder import SentenceEncoder

    return IntentClassifier(SentenceEncoder(), cache_dir=Path(cache_dir) if cache_dir else None)


@lru_cache(maxsize=1)
def _complaint_patterns() -> list[tuple[str, re.Pattern]]:
    data = json.loads(COMPLAINTS_PATH.read_text(encoding="utf-8"))
    out = []
    for specialty, words in data.items():
        if specialty.startswith("_"):
            continue
        alternatives = "|".join(re.escape(w.lower()) for w in sorted(words, key=len, reverse=True))
        out.append((specialty, re.compile(rf"\b(?:{alternatives})s?\b")))
    return out


def complaint_specialty(normalized_text: str, specialties: list[str]) -> str | None:
    """The specialty a lay complaint points to ("my knee is swollen" → orthopedics).

    A specific body part or complaint wins over a child being mentioned (a child's earache is
    ENT); pediatrics only when nothing more specific was said. Only specialties the clinic has.
    """
    have = {s.lower(): s for s in specialties}
    found: list[tuple[int, str]] = []
    for specialty, pattern in _complaint_patterns():
        if specialty.lower() not in have:
            continue
        m = pattern.search(normalized_text)
        if m:
            found.append((m.start(), have[specialty.lower()]))
    specific = [f for f in found if f[1].lower() != "pediatrics"]
    chosen = min(specific or found, default=None)
    return chosen[1] if chosen else None


@lru_cache(maxsize=1)
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def frustration_score(text: str) -> float:
    """VADER's negative compound score of ``text`` as 0..1 (0 = not negative at all)."""
    return max(0.0, -float(_vader().polarity_scores(text)["compound"]))
