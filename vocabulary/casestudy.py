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

SURNAMES = """
Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Wilson Anderson
Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez
Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams
Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz
Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz
Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks
Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel
Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler
Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton
Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran
Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez McDonald Woods
Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson
Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes
Palmer Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt
Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley
Spencer Hawkins Arnold Pierce Vazquez Hansen Peters Santos Hart Bradley Knight Elliott
Cunningham Duncan Armstrong Hudson Carroll Lane Riley Andrews Alvarado Ray Delgado Berry
Perkins Hoffman Johnston Matthews Pena Richards Contreras Willis Carpenter Lawrence Sandoval
Okafor Okeke Adebayo Oladipo Nwachukwu Eze Obi Chukwu Afolabi Balogun Mensah Owusu Boateng
Asante Osei Appiah Kamau Otieno Wanjiru Mwangi Achieng Njoroge Ndlovu Dlamini Nkosi Mahlangu
Sithole Khumalo Zulu Banda Phiri Tembo Mutasa Moyo Hassan Ali Ahmed Mohammed Abdullah
Rahman Karim Aziz Malik Qureshi Sheikh Syed Hussain Rashid Nasser Khalil Saleh Mansour
Haddad Khoury Nassar Aboud Shah Khan Mehta Sharma Gupta Singh Kumar Reddy Rao Nair Pillai
Menon Iyengar Krishnan Subramanian Srinivasan Raghavan Natarajan Sundaram Chandra Bose
Banerjee Chatterjee Ghosh Sen Das Mitra Joshi Desai Shetty Kulkarni Patil Deshpande Bhat
Wang Li Zhang Liu Yang Huang Zhou Wu Sun Ma Zhu Hu Guo He Lin Luo Gao Zheng Liang Xie Song
Tang Han Feng Deng Cao Peng Zeng Xiao Tian Dong Pan Yuan Cai Jiang Yu Du Ye Cheng Wei Su
Lu Ding Ren Shen Yao Jin Tan Lim Ng Ong Goh Chua Koh Teo Sato Suzuki Takahashi Watanabe Ito
Nakamura Kobayashi Kato Yoshida Yamada Sasaki Yamaguchi Matsumoto Inoue Kimura Hayashi
Shimizu Yamazaki Mori Abe Ikeda Hashimoto Ishikawa Ogawa Fujita Okada Goto Hasegawa Murakami
Kondo Ishii Saito Sakamoto Endo Aoki Fujii Nishimura Fukuda Ota Miura Okamoto Matsuda Park
Choi Jung Kang Cho Yoon Jang Lim Han Oh Seo Shin Kwon Hwang Ahn Song Hong Yoo Ko Moon Yang
Pham Hoang Phan Vu Vo Dang Bui Do Ho Ngo Duong Ly Kowalski Nowak Wisniewski Wojcik
Kowalczyk Kaminski Lewandowski Zielinski Szymanski Wozniak Dabrowski Kozlowski Jankowski
Mazur Kwiatkowski Krawczyk Piotrowski Grabowski Nowakowski Pawlowski Michalski Nowicki
Adamczyk Dudek Zajac Wieczorek Jablonski Krol Majewski Olszewski Jaworski Wrobel Malinowski
Pawlak Witkowski Walczak Stepien Gorski Rutkowski Michalak Sikora Ostrowski Baran Duda
Szewczyk Tomaszewski Pietrzak Marciniak Wroblewski Zalewski Jakubowski Jasinski Zawadzki
Sadowski Bak Chmielewski Wlodarczyk Borkowski Czarnecki Sawicki Sokolowski Urbanski Kubiak
Maciejewski Szczepanski Kucharski Wilk Kalinowski Lis Mazurek Wysocki Adamski Kazmierczak
Wasilewski Sobczak Czerwinski Andrzejewski Cieslak Glowacki Zakrzewski Kolodziej Sikorski
Krajewski Gajewski Szymczak Szulc Baranowski Laskowski Brzezinski Makowski Ziolkowski
Przybylski Ivanov Smirnov Kuznetsov Popov Vasiliev Petrov Sokolov Mikhailov Novikov Fedorov
Morozov Volkov Alekseev Lebedev Semenov Egorov Pavlov Kozlov Stepanov Nikolaev Orlov
Andreev Makarov Nikitin Zakharov Zaitsev Solovyov Borisov Yakovlev Grigoriev Romanov
Vorobyov Sergeev Kuzmin Frolov Alexandrov Dmitriev Korolev Gusev Kiselev Ilyin Maksimov
Polyakov Sorokin Vinogradov Kovalev Belov Medvedev Antonov Tarasov Zhukov Baranov Filippov
Komarov Davydov Belyaev Gerasimov Bogdanov Osipov Sidorov Matveev Titov Markov Mironov
Krylov Kulikov Karpov Vlasov Melnikov Denisov Gavrilov Tikhonov Kazakov Afanasyev Danilov
Savelyev Timofeev Fomin Chernov Abramov Martynov Efimov Fedotov Shcherbakov Nazarov Kalinin
Isaev Chernyshev Bykov Maslov Rodionov Konovalov Lazarev Voronin Klimov Filatov Ponomarev
Golubev Kudryavtsev Prokhorov Naumov Potapov Zhuravlev Ovchinnikov Trofimov Leonov Sobolev
Ermakov Kolesnikov Goncharov Emelyanov Nikiforov Grachev Kotov Grishin Efremov Arkhipov
Gromov Kirillov Malyshev Panov Moiseev Rumyantsev Akimov Kondratyev Biryukov Gorbunov
Anisimov Eremin Tikhomirov Galkin Lukyanov Mikheev Skvortsov Yudin Belousov Nesterov
Simonov Prokofiev Kharitonov Knyazev Tsvetkov Levin Mitrofanov Voronov Aksenov Sofronov
Maltsev Loginov Gorshkov Savin Krasnov Mayorov Demidov Eliseev Rybakov Safonov Plotnikov
Demin Khokhlov Fadeev Molchanov Ignatov Litvinov Ershov Ushakov Dementiev Ryabov Mukhin
Kalashnikov Leontiev Lobanov Kuzin Korneev Evdokimov Borodin Platonov Nekrasov Balashov
Bobrov Zhdanov Blinov Ignatiev Korotkov Muravyov Kryukov Belyakov Bogomolov Drozdov Lavrov
Zuev Petukhov Larin Nikulin Serov Terentyev Zotov Ustinov Fokin Samoilov Konstantinov
Lagutin Rogov Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schafer
Koch Bauer Richter Klein Wolf Schroder Neumann Schwarz Zimmermann Braun Kruger Hofmann
Hartmann Lange Schmitt Werner Schmitz Krause Meier Lehmann Schmid Schulze Maier Kohler
Herrmann Konig Walter Mayer Huber Kaiser Fuchs Peters Lang Scholz Moller Weiss Jung Hahn
Schubert Vogel Friedrich Keller Gunther Frank Berger Winkler Roth Beck Lorenz Baumann
Franke Albrecht Schuster Simon Ludwig Bohm Winter Kraus Martin Schumacher Kramer Vogt
Stein Jager Otto Sommer Gross Seidel Heinrich Brandt Haas Schreiber Graf Schulte Dietrich
Ziegler Kuhn Kuhl Pohl Engel Horn Busch Bergmann Thomas Voigt Sauer Arnold Wolff Pfeiffer
Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti
DeLuca Mancini Costa Giordano Rizzo Lombardi Moretti Barbieri Fontana Santoro Mariani
Rinaldi Caruso Ferrara Galli Martini Leone Longo Gentile Martinelli Vitale Lombardo Serra
Coppola DeSantis DAngelo Marchetti Parisi Villa Conte Ferraro Ferri Fabbri Bianco Marini
Grasso Valentini Messina Sala DeAngelis Gatti Pellegrini Palumbo Sanna Farina Rizzi
Monti Cattaneo Morelli Amato Silvestri Mazza Testa Grassi Pellegrino Carbone Giuliani
Benedetti Barone Rossetti Caputo Montanari Guerra Palmieri Bernardi Martino Fiore DeRosa
Ferretti Bellini Basile Riva Donati Piras Vitali Battaglia Sartori Neri Costantini Milani
Pagano Ruggiero Sorrentino DAmico Orlando Damico Negri Dubois Durand Lefebvre Leroy Moreau
Simon Laurent Michel Garnier Faure Rousseau Blanc Guerin Muller Henry Roussel Nicolas
Perrin Morin Mathieu Clement Gauthier Dumont Lopez Fontaine Chevalier Robin Masson Sanchez
Gerard Nguyen Boyer Denis Lemaire Duval Joly Gautier Roger Roche Roy Noel Meyer Lucas
Meunier Jean Perez Marchand Dufour Blanchard Marie Barbier Brun Dumas Brunet Schmitt Leroux
Colin Fernandez Pierre Renard Arnaud Rolland Caron Aubert Giraud Leclerc Vidal Bourgeois
Renaud Lemoine Picard Gaillard Philippe Leclercq Lacroix Fabre Dupuis Olivier Rodriguez
Aubry Delacroix Thibodeaux Boudreaux Hebert Landry Guidry Broussard LeBlanc Fontenot
Johansson Andersson Karlsson Nilsson Eriksson Larsson Olsson Persson Svensson Gustafsson
Pettersson Jonsson Jansson Hansson Bengtsson Lindberg Lindstrom Lindqvist Lindgren Berg
Axelsson Bergstrom Lundberg Lundgren Lundqvist Mattsson Berglund Fredriksson Sandberg
Henriksson Forsberg Sjoberg Wallin Engstrom Eklund Danielsson Lundin Hakansson Bjork
Bergman Gunnarsson Holm Wikstrom Samuelsson Isaksson Fransson Bergqvist Nystrom Holmberg
Arvidsson Lofgren Soderberg Nyberg Blomqvist Claesson Nordstrom Martensson Lundstrom Viklund
Bjorklund Eliasson Berggren Sandstrom Lund Nordin Strom Aberg Hermansson Ekstrom Holmgren
Sundberg Hedlund Dahlberg Hellstrom Sjogren Abrahamsson Falk Oberg Andreasson Blom Ek
Hansen Jensen Nielsen Pedersen Andersen Christensen Larsen Sorensen Rasmussen Jorgensen
Petersen Madsen Kristensen Olsen Thomsen Christiansen Poulsen Johansen Knudsen Mortensen
Virtanen Korhonen Makinen Nieminen Makela Hamalainen Laine Heikkinen Koskinen Jarvinen
Lehtonen Lehtinen Saarinen Salminen Heinonen Niemi Heikkila Kinnunen Salonen Turunen
Yilmaz Kaya Demir Sahin Celik Yildiz Yildirim Ozturk Aydin Ozdemir Arslan Dogan Kilic
Aslan Cetin Kara Koc Kurt Ozkan Simsek Polat Ozcan Korkmaz Cakir Erdogan Yavuz Can Acar
Papadopoulos Georgiou Dimitriou Nikolaou Konstantinou Ioannou Christodoulou Pappas Vlachos
Oikonomou Antoniou Makris Alexiou Karagiannis Stavrou Angelopoulos Vasileiou Kostopoulos
Grigoryan Sargsyan Harutyunyan Hovhannisyan Karapetyan Khachatryan Gevorgyan Petrosyan
Abernathy Achterberg Acheampong Adeyemi Anand Bhattacharya Bjornsson Brennan Castellanos
Carvalho Chaudhry Dasgupta Eberhardt Farouk Figueroa Fitzgerald Fonseca Gallagher Goldberg
Gunawardena Hashemi Horvath Ibrahim Ignatius Iyer Jaramillo Kaczmarek Kapoor Kirchner
Kuznetsov Lozano Mahmoud Mbeki Mukherjee Nakashima Novak Nwosu Obuya Oduya Okonkwo Olawale
Oyelaran Pereira Quach Quintero Rajagopalan Ramaswamy Rosenthal Siddiqui Tanaka Tkachenko
Trivedi Ueda Urquhart Venkatesan Whitfield Xiong Xu Yamamoto Yusuf Zapata Zhao Ferreira
Hernandez Esposito
"""

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

MEDICATIONS = """
acetaminophen acyclovir adalimumab albuterol alendronate allopurinol alprazolam amiodarone
amitriptyline amlodipine amoxicillin amphetamine anastrozole apixaban aripiprazole
atenolol atomoxetine atorvastatin azathioprine azithromycin baclofen beclomethasone
benazepril benzonatate benztropine bisoprolol brimonidine budesonide bumetanide
buprenorphine bupropion buspirone butalbital calcitriol candesartan canagliflozin
captopril carbamazepine carbidopa carvedilol cefdinir cefuroxime celecoxib cephalexin
cetirizine chlorthalidone cholecalciferol ciprofloxacin citalopram clarithromycin
clindamycin clobetasol clonazepam clonidine clopidogrel clotrimazole clozapine colchicine
cyclobenzaprine cyclosporine dabigatran dapagliflozin desvenlafaxine dexamethasone
dexmethylphenidate dextroamphetamine diazepam diclofenac dicyclomine digoxin diltiazem
diphenhydramine divalproex donepezil doxazosin doxepin doxycycline dulaglutide duloxetine
dupilumab empagliflozin enalapril enoxaparin entecavir escitalopram esomeprazole estradiol
eszopiclone etanercept etodolac ezetimibe famotidine febuxostat felodipine
fenofibrate fentanyl fexofenadine finasteride fluconazole fludrocortisone fluoxetine
fluticasone fluvoxamine formoterol fosinopril furosemide gabapentin gemfibrozil
glimepiride glipizide glyburide guanfacine haloperidol hydralazine
hydrochlorothiazide hydrocodone hydrocortisone hydromorphone hydroxychloroquine
hydroxyzine ibandronate ibuprofen indapamide indomethacin infliximab ipratropium
irbesartan isosorbide isotretinoin ivermectin ketoconazole ketorolac labetalol lacosamide
lamotrigine lansoprazole latanoprost leflunomide letrozole leuprolide levetiracetam
levocetirizine levofloxacin levothyroxine linagliptin liothyronine liraglutide lisinopril
lithium loperamide loratadine lorazepam losartan lovastatin lurasidone meclizine
medroxyprogesterone meloxicam memantine mercaptopurine mesalamine metformin methadone
methimazole methocarbamol methotrexate methylphenidate methylprednisolone metoclopramide
metolazone metoprolol metronidazole minocycline minoxidil mirabegron mirtazapine
mometasone montelukast morphine mupirocin mycophenolate nabumetone nadolol naltrexone
naproxen nebivolol nifedipine nitrofurantoin nitroglycerin norethindrone nortriptyline
nystatin olanzapine olmesartan omeprazole ondansetron oseltamivir oxcarbazepine
oxybutynin oxycodone paliperidone pantoprazole paroxetine penicillin perindopril
phenazopyridine phentermine phenytoin pioglitazone pramipexole prasugrel pravastatin
prazosin prednisolone prednisone pregabalin primidone probenecid prochlorperazine
progesterone promethazine propranolol pseudoephedrine quetiapine quinapril rabeprazole
raloxifene ramipril ranolazine risperidone rivaroxaban rizatriptan ropinirole
rosuvastatin rifampin sacubitril salmeterol semaglutide sertraline sildenafil simvastatin
sitagliptin solifenacin sotalol spironolactone sucralfate sulfamethoxazole sulfasalazine
sumatriptan tacrolimus tadalafil tamoxifen tamsulosin telmisartan temazepam terazosin
terbinafine teriparatide testosterone ticagrelor timolol tirzepatide tizanidine
tolterodine topiramate torsemide tramadol trandolapril trazodone triamcinolone
triamterene trimethoprim ursodiol ustekinumab valacyclovir valganciclovir valproate
valsartan vancomycin varenicline venlafaxine verapamil vilazodone voriconazole
vortioxetine warfarin zafirlukast ziprasidone zolmitriptan zolpidem zonisamide
abatacept adapalene alogliptin ambrisentan anakinra apremilast armodafinil asenapine
baricitinib bimatoprost bosentan brexpiprazole bromocriptine cabergoline calcipotriene
cariprazine certolizumab cinacalcet clomiphene dalteparin dapsone darifenacin denosumab
dofetilide dorzolamide dronedarone edoxaban eletriptan eplerenone ertugliflozin
esketamine etonogestrel evolocumab exenatide fidaxomicin fingolimod flecainide
galantamine glatiramer golimumab guaifenesin ixekizumab lanreotide lenalidomide
linaclotide lixisenatide lubiprostone modafinil nateglinide nintedanib octreotide
ofloxacin omalizumab ospemifene palbociclib pimavanserin pirfenidone pitavastatin
posaconazole propafenone ranitidine repaglinide rifaximin riluzole risankizumab
rivastigmine roflumilast rotigotine saxagliptin secukinumab selegiline sevelamer
suvorexant tapentadol teriflunomide tiotropium tofacitinib tolvaptan trospium
umeclidinium upadacitinib vedolizumab vilanterol
"""

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
    for name in _unique(sorted(set(SURNAMES.split())), seen):
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
    for med in _unique(sorted(set(MEDICATIONS.split())), seen):
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
