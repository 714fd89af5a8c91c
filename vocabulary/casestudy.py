"""A case-study-sized vocabulary: 2,000 providers and 500 medications.

Built deterministically from the clinic vocabulary plus real surnames and drug names, and
topped up with names composed from common surname and drug-name parts (so they are as
confusable as real ones). Used to measure speed and accuracy at the scale of a large
practice; the result is shipped as ``vocabulary/data/case_study_vocabulary.json``.

Regenerate with ``.venv/bin/python -m vocabulary.casestudy``.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
CASE_STUDY_VOCABULARY = DATA_DIR / "case_study_vocabulary.json"
CLINIC_VOCABULARY = Path(__file__).resolve().parent.parent / "clinic" / "data"
CLINIC_VOCABULARY = CLINIC_VOCABULARY / "clinic_vocabulary.json"
SURNAMES_PATH = DATA_DIR / "casestudy_surnames.txt"
MEDICATIONS_PATH = DATA_DIR / "casestudy_medications.txt"

# Parts for composed surnames, grouped so that a stem gets an ending of its own style.
SURNAME_PARTS = {
    "slavic": (
        "Kowal Nowa Wisn Kamin Lewand Zielin Szyman Kozlo Jank Dabro Mazu Kwiat Piotr Grab "
        "Pawl Michal Adam Wiecz Jabl Maj Olsz Jawor Malin Witk Walcz Gors Rutk Sik Ostr Szew "
        "Tomasz Pietr Marcin Zalew Jakub Jasin Zawadz Sadow Chmiel Wlodar Bork Czarn Sawic "
        "Sokol Urban Kub Maciej Szczep Kuchar Kalin Wysoc Wasil Sobcz Czerw Andrzej Glow "
        "Zakrz Kolodz Kraj Gaj Baran Lask Brzez Mak Ziolk Przyb Dudz Lesni Pilat Bial Krasn"
    ).split(),
    "slavic_end": "owski ewski ski czyk ak iak ek ik icz owicz enko uk chuk ov ev in".split(),
    "germanic": (
        "Stein Rosen Gold Silber Eisen Lichten Blumen Feld Wald Berg Hof Kirch Bach Brand "
        "Sch\u00f6n Groß Klein Alt Neu Hoch Lind Ros Stern Weiß Grün Roth Schwarz Lieb Sonnen "
        "Morgen Abend Winter Sommer Falken Adler Wolf Fuchs Hirsch Lehr Acker Linden Eichen"
    )
    .replace("\u00f6", "o")
    .replace("ß", "ss")
    .replace("ü", "u")
    .split(),
    "germanic_end": "berg stein feld thal mann baum bach hof heim dorf stadt haus wald".split(),
    "west_african": (
        "Ade Olu Oba Chi Nwa Oke Ola Ayo Femi Tunde Kola Bola Sola Ije Obi Uche Emeka Ngo "
        "Kwa Kofi Yaw Kwame Osei Asa Ama Efua Adjoa Mensa Boa Agye Dada Ibe Onye Ezi Amadi"
    ).split(),
    "west_african_end": "yemi nike wale bayo dipo kunle nwosu chukwu okafor enyi ogu "
    "mole bisi toye kanmi boye teng sah poku fosu koro dunmoye".split(),
    "south_asian": (
        "Ra Kri Sri Venka Subra Nata Raghu Ana Shan Muru Bala Chandra Mahe Gane Siva Pada "
        "Vija Jaya Rama Laksh Sesha Nara Guna Kuma Sunda Sara Anan Deva Hari Madha Prabha"
    ).split(),
    "south_asian_end": "swamy krishnan raman nathan sundaram murthy rajan gopalan varma "
    "shankar narayanan moorthy velu pillai chari iyer reddy dasan kumar".split(),
    "hispanic": (
        "Alva Castel Fernan Gutier Hernan Jara Lor Mend Navar Ord Quint Rodri Sando Valen "
        "Villa Zamo Bece Carde Domin Escob Galle Ibar Larr Montal Oroz Pala Sepul Tor Urib "
        "Vela Aceve Barri Cisne Echev Frag Garri Medi"
    ).split(),
    "hispanic_end": "ez es illo ano ero ada ido ales iz oza aga ueta ena ura".split(),
    "japanese": (
        "Naka Yama Taka Kita Mina Nishi Higa Hira Matsu Fuji Ishi Kawa Mori Oka Saka Tani "
        "Uchi Yoshi Aki Haru Kazu Masa Nori Shige Tada Toshi Hide Kiyo Mitsu Sada"
    ).split(),
    "japanese_end": "mura moto shita da gawa zaki no uchi hara saki yama kawa ta bayashi".split(),
}
PAIRS = [
    ("slavic", "slavic_end"),
    ("germanic", "germanic_end"),
    ("west_african", "west_african_end"),
    ("south_asian", "south_asian_end"),
    ("hispanic", "hispanic_end"),
    ("japanese", "japanese_end"),
]

MED_STEMS = (
    "ama bel cal dar del dor em fel gal hal ir ker lam lev lor mav mel mir nab nel nor "
    "ob ol pal pel per quin ral rel sal sel tal tel tor ul val vel zal zer zol fur bar "
    "cor dex fex lin pra ris sor tam ter ven"
).split()
MED_MIDS = "a e i o u ani eri ola ipa ude ero".split()
MED_ENDS = (
    "pril sartan olol statin mab tinib azole cycline floxacin dipine gliptin gliflozin "
    "tidine prazole setron triptan vir zepam oxetine afil parin lukast mide thiazide semide "
    "azosin terol sonide tropium vastatin"
).split()


def _word_list(path: Path) -> list[str]:
    """The sorted distinct words of a shipped list (one a line, ``#`` comments)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return sorted({line.strip() for line in lines if line.strip() and not line.startswith("#")})


def _unique(names, seen):
    for name in names:
        key = name.lower()
        if key not in seen:
            seen.add(key)
            yield name


def build_case_study_vocabulary(
    base: dict, *, providers: int = 2000, medications: int = 500, seed: int = 2024
) -> dict:
    """The clinic vocabulary grown to ``providers`` providers and ``medications`` drugs.

    Args:
        base: A vocabulary dict (the clinic's); its terms come first and are all kept.
        providers: Total providers wanted.
        medications: Total medications wanted.
        seed: Seed of the generator that composes the extra names.
    """
    rng = random.Random(seed)
    seen: set[str] = set()
    names = [p.split(" ", 1)[1] if p.startswith("Dr. ") else p for p in base.get("providers", [])]
    out_providers = [f"Dr. {n}" for n in _unique(names, seen)]
    for name in _unique(_word_list(SURNAMES_PATH), seen):
        if len(out_providers) >= providers:
            break
        out_providers.append(f"Dr. {name}")
    while len(out_providers) < providers:
        stem_group, end_group = rng.choice(PAIRS)
        name = rng.choice(SURNAME_PARTS[stem_group]) + rng.choice(SURNAME_PARTS[end_group])
        name = name[0].upper() + name[1:].lower()
        if name.lower() not in seen:
            seen.add(name.lower())
            out_providers.append(f"Dr. {name}")

    seen = set()
    out_meds = list(_unique(base.get("medications", []), seen))
    for med in _unique(_word_list(MEDICATIONS_PATH), seen):
        if len(out_meds) >= medications:
            break
        out_meds.append(med)
    while len(out_meds) < medications:
        med = rng.choice(MED_STEMS) + rng.choice(MED_MIDS) + rng.choice(MED_ENDS)
        if med not in seen:
            seen.add(med)
            out_meds.append(med)

    vocabulary = {key: value for key, value in base.items()}
    vocabulary["providers"] = out_providers[:providers]
    vocabulary["medications"] = out_meds[:medications]
    return vocabulary


def main(argv: list[str] | None = None) -> int:
    """Write ``vocabulary/data/case_study_vocabulary.json`` from the clinic vocabulary."""
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else CASE_STUDY_VOCABULARY
    base = json.loads(CLINIC_VOCABULARY.read_text(encoding="utf-8"))
    vocabulary = build_case_study_vocabulary(base)
    out.write_text(json.dumps(vocabulary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(
        f"wrote {out}: {len(vocabulary['providers'])} providers, "
        f"{len(vocabulary['medications'])} medications",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
