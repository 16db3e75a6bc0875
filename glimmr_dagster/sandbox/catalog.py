"""What generated price files charge for, and who pays: items, codes, payers and plans.

Descriptions, codes and price levels are modelled on real chargemasters and the CMS examples, so
parsers, code normalisation and analytics meet the same shapes they meet in hospital files:
CPT/HCPCS procedures with a revenue code, MS-DRG case rates, per-diem room charges, drugs
carried by NDC (with unit and unit type) and payer names that need CSV quoting.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CatalogItem:
    description: str
    code: str
    code_type: str
    setting: str
    gross: float
    # procedure | imaging | lab | ed | drg | room | drug
    kind: str
    revenue_code: str = ""
    drug_unit: str = ""
    drug_type: str = ""
    # For drugs billed under a HCPCS code, the NDC carried as a second code.
    ndc: str = ""


def _items(kind: str, code_type: str, setting: str, revenue_code: str, rows: str) -> list[CatalogItem]:
    items = []
    for line in rows.strip().splitlines():
        code, gross, description = line.split("|", 2)
        items.append(CatalogItem(description.strip(), code.strip(), code_type, setting, float(gross), kind,
                                 revenue_code=revenue_code))
    return items


_PROCEDURES = _items("procedure", "CPT", "outpatient", "0360", """
45378|3200|Colonoscopy, flexible; diagnostic, including collection of specimen(s) by brushing or washing
45380|3900|Colonoscopy, flexible; with biopsy, single or multiple
43239|3400|Esophagogastroduodenoscopy, flexible, transoral; with biopsy, single or multiple
66984|5200|Extracapsular cataract removal with insertion of intraocular lens prosthesis
29881|7800|Arthroscopy, knee, surgical; with meniscectomy (medial OR lateral)
47562|11800|Laparoscopy, surgical; cholecystectomy
49505|7400|Repair initial inguinal hernia, age 5 years or older; reducible
19120|6100|Excision of cyst, fibroadenoma, or other benign or malignant tumor of breast
55700|2800|Biopsy, prostate; needle or punch, single or multiple, any approach
64483|2300|Injection(s), anesthetic agent(s) and/or steroid; transforaminal epidural, lumbar or sacral, single level
20610|420|Arthrocentesis, aspiration and/or injection, major joint or bursa; without ultrasound guidance
10060|480|Incision and drainage of abscess; simple or single
12001|510|Simple repair of superficial wounds of scalp, neck, axillae, external genitalia, trunk; 2.5 cm or less
93452|9800|Left heart catheterization including intraprocedural injection(s) for left ventriculography
92928|18500|Percutaneous transcatheter placement of intracoronary stent(s), with coronary angioplasty; single major coronary artery
58558|5600|Hysteroscopy, surgical; with sampling (biopsy) of endometrium and/or polypectomy
42820|4300|Tonsillectomy and adenoidectomy; younger than age 12
28285|3900|Correction, hammertoe (eg, interphalangeal fusion, partial or total phalangectomy)
""") + _items("procedure", "CPT", "inpatient", "0360", """
27447|38000|Arthroplasty, knee, condyle and plateau; medial AND lateral compartments (total knee arthroplasty)
27130|41000|Arthroplasty, acetabular and proximal femoral prosthetic replacement (total hip arthroplasty)
59400|9800|Routine obstetric care including antepartum care, vaginal delivery and postpartum care
59510|14200|Routine obstetric care including antepartum care, cesarean delivery, and postpartum care
""")

_IMAGING = _items("imaging", "CPT", "outpatient", "0320", """
70551|2900|Magnetic resonance (eg, proton) imaging, brain; without contrast material
70553|3800|MRI brain without contrast material, followed by contrast material(s) and further sequences
72148|2600|Magnetic resonance imaging, spinal canal and contents, lumbar; without contrast material
73721|2400|Magnetic resonance imaging, any joint of lower extremity; without contrast material
74177|3100|Computed tomography, abdomen and pelvis; with contrast material(s)
71250|1500|Computed tomography, thorax, diagnostic; without contrast material
70450|1300|Computed tomography, head or brain; without contrast material
71046|320|Radiologic examination, chest; 2 views
73030|280|Radiologic examination, shoulder; complete, minimum of 2 views
76700|780|Ultrasound, abdominal, real time with image documentation; complete
76805|650|Ultrasound, pregnant uterus, real time with image documentation, fetal and maternal evaluation
77067|420|Screening mammography, bilateral (2-view study of each breast), including computer-aided detection
93306|2100|Echocardiography, transthoracic, real-time with image documentation (2D), complete
78452|4100|Myocardial perfusion imaging, tomographic (SPECT), multiple studies
""")

_LABS = _items("lab", "CPT", "both", "0300", """
80053|220|Comprehensive metabolic panel
80048|150|Basic metabolic panel (Calcium, total)
85025|95|Blood count; complete (CBC), automated and automated differential WBC count
84443|140|Thyroid stimulating hormone (TSH)
83036|90|Hemoglobin; glycosylated (A1C)
81001|45|Urinalysis, by dip stick or tablet reagent; automated, with microscopy
80061|120|Lipid panel
87635|160|Infectious agent detection by nucleic acid (DNA or RNA); severe acute respiratory syndrome coronavirus 2 (SARS-CoV-2), amplified probe technique
36415|25|Collection of venous blood by venipuncture
87086|70|Culture, bacterial; quantitative colony count, urine
""")

_CLINIC = _items("ed", "CPT", "outpatient", "0450", """
99283|850|Emergency department visit for the evaluation and management of a patient, moderate level of medical decision making
99284|1450|Emergency department visit for the evaluation and management of a patient, moderate to high level of medical decision making
99285|2600|Emergency department visit for the evaluation and management of a patient, high level of medical decision making
""") + _items("procedure", "CPT", "outpatient", "0510", """
99203|260|Office or other outpatient visit for the evaluation and management of a new patient, low level of medical decision making
99213|210|Office or other outpatient visit for the evaluation and management of an established patient, low level of medical decision making
99214|310|Office or other outpatient visit for the evaluation and management of an established patient, moderate level of medical decision making
90837|280|Psychotherapy, 60 minutes with patient
97110|140|Therapeutic procedure, 1 or more areas, each 15 minutes; therapeutic exercises to develop strength and endurance
97161|260|Physical therapy evaluation: low complexity
95810|3100|Polysomnography; age 6 years or older, sleep staging with 4 or more additional parameters of sleep
93000|180|Electrocardiogram, routine ECG with at least 12 leads; with interpretation and report
""") + _items("procedure", "HCPCS", "outpatient", "0760", """
G0121|3100|Colorectal cancer screening; colonoscopy on individual not meeting criteria for high risk
G0378|120|Hospital observation service, per hour
G0283|60|Electrical stimulation (unattended), to one or more areas for indication(s) other than wound care
""")

_DRGS = _items("drg", "MS-DRG", "inpatient", "", """
470|38000|Major hip and knee joint replacement or reattachment of lower extremity without mcc
871|52000|Septicemia or severe sepsis without mv >96 hours with mcc
872|31000|Septicemia or severe sepsis without mv >96 hours without mcc
291|41000|Heart failure and shock with mcc
292|28000|Heart failure and shock with cc
193|36000|Simple pneumonia and pleurisy with mcc
194|24000|Simple pneumonia and pleurisy with cc
392|18000|Esophagitis, gastroenteritis and miscellaneous digestive disorders without mcc
690|17000|Kidney and urinary tract infections without mcc
603|16000|Cellulitis without mcc
683|22000|Renal failure with cc
065|33000|Intracranial hemorrhage or cerebral infarction with cc or tpa in 24 hours
247|62000|Percutaneous cardiovascular procedures with drug-eluting stent without mcc
460|89000|Spinal fusion except cervical without mcc
807|14000|Vaginal delivery without sterilization or d&c without cc/mcc
788|21000|Cesarean section without sterilization without cc/mcc
795|4200|Normal newborn
885|19000|Psychoses
897|14500|Alcohol, drug abuse or dependence without rehabilitation therapy without mcc
945|32000|Rehabilitation with cc/mcc
""")

_ROOMS = _items("room", "RC", "inpatient", "", """
0120|2800|Room and board - semi-private (two beds), per day
0110|3100|Room and board - private (one bed), per day
0200|6800|Intensive care unit - general classification, per day
0206|5200|Intensive care unit - intermediate ICU, per day
0170|1900|Nursery - newborn level I, per day
""") + _items("room", "RC", "outpatient", "", """
0762|1400|Treatment or observation room - observation room
0710|1500|Recovery room - general classification
0370|1900|Anesthesia - general classification
""")


def _drugs(rows: str) -> list[CatalogItem]:
    items = []
    for line in rows.strip().splitlines():
        hcpcs, ndc, unit, unit_type, gross, description = (part.strip() for part in line.split("|", 5))
        items.append(CatalogItem(description, hcpcs or ndc, "HCPCS" if hcpcs else "NDC", "both",
                                 float(gross), "drug", revenue_code="0636", drug_unit=unit,
                                 drug_type=unit_type, ndc=ndc if hcpcs else ""))
    return items


_DRUGS = _drugs("""
J1885|0409-3795-01|1|ML|48|Ketorolac tromethamine 30 milligrams/milliliter injection
J2405|0409-4755-03|2|ML|36|Ondansetron hydrochloride 2 milligrams/milliliter injection, 2 milliliter vial
J0696|0143-9858-10|1|EA|64|Ceftriaxone sodium 1 gram powder for injection, vial
J1100|63323-0165-01|1|ML|22|Dexamethasone sodium phosphate 4 milligrams/milliliter injection
J3010|0409-9094-22|2|ML|41|Fentanyl citrate 50 micrograms/milliliter injection, 2 milliliter ampule
J7030|0338-0049-04|1000|ML|118|Sodium chloride 0.9% intravenous solution, 1000 milliliter bag
J1170|0409-1312-30|1|ML|57|Hydromorphone hydrochloride 2 milligrams/milliliter injection
J0131|63323-0570-61|100|ML|96|Acetaminophen 10 milligrams/milliliter intravenous solution, 100 milliliter
J1642|63323-0047-01|1|ML|15|Heparin sodium (porcine) 1,000 units/milliliter injection, flush
J3420|63323-0044-01|1|ML|30|Cyanocobalamin 1000 micrograms/milliliter injection solution
J1450|25021-0184-82|100|ML|75|Fluconazole 2 milligrams/milliliter in sodium chloride, 100 milliliter
|10135-0729-62|1|UN|2|Aspirin 81 milligram chewable tablet
|0093-8739-01|1|UN|5|Mexiletine hydrochloride 150 milligram capsule
|45802-0269-37|60|GM|120|Permethrin 5% cream
|0378-0018-01|1|UN|3|Metoprolol tartrate 25 milligram tablet
|0904-6431-61|1|UN|4|Atorvastatin calcium 40 milligram tablet
|68180-0513-06|1|UN|6|Lisinopril 10 milligram tablet
|0781-5180-01|1|EA|9|Amoxicillin 500 milligram capsule
|0409-6102-02|10|ML|19|Lidocaine hydrochloride 1% injection, 10 milliliter vial
|0054-4297-25|5|ME|34|Morphine sulfate 1 milligram/milliliter oral solution, 5 milligram dose
""")

CATALOG: tuple[CatalogItem, ...] = tuple(_PROCEDURES + _IMAGING + _LABS + _CLINIC + _DRGS + _ROOMS + _DRUGS)

# Modifier rows as hospitals list them: the adjustment applies to whatever item carries the modifier.
MODIFIERS: tuple[tuple[str, str, float], ...] = (
    ("Bilateral procedure", "50", 150.0),
    ("Co-surgeon", "62", 62.5),
    ("Bilateral procedure with co-surgeon", "50|62", 93.75),
    ("Assistant surgeon", "80", 16.0),
    ("Multiple procedures", "51", 50.0),
    ("Reduced services", "52", 50.0),
)

# (payer, plans). Some names carry commas or ampersands on purpose: real files quote them.
PAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Aetna", ("Commercial PPO", "Open Access Managed Choice", "Medicare Advantage HMO")),
    ("Blue Cross Blue Shield of {state}", ("PPO", "HMO Blue", "BlueCard")),
    ("Cigna", ("Open Access Plus", "LocalPlus")),
    ("UnitedHealthcare", ("Choice Plus", "Navigate HMO", "AARP Medicare Advantage")),
    ("Humana", ("Medicare Advantage PPO", "Gold Plus HMO")),
    ("Molina Healthcare", ("Medicaid Managed Care", "Marketplace")),
    ("Ambetter from Centene", ("Essential Care Silver",)),
    ("Kaiser Permanente", ("HMO",)),
    ("Oscar Health", ("EPO",)),
    ("TRICARE", ("Select",)),
    ("MultiPlan, Inc.", ("PHCS Network",)),
    ("WellCare", ("Medicare Advantage",)),
    ("Health Plan of {state}, Inc.", ("All Plans",)),
    ("Magellan Health & Wellness", ("Behavioral Health",)),
)

# Algorithms real files use when a rate cannot be given in dollars.
ALGORITHMS: tuple[str, ...] = (
    "{pct}% of the current Medicare fee schedule amount for the date of service",
    "{pct}% of the Medicare OPPS APC rate in effect on the date of service",
    "Allowed amount is the lesser of billed charges and {pct}% of the Medicare IPPS pricer amount",
    "Per diem of ${dollars} for days 1-3, then {pct}% of billed charges for each additional day",
    "{pct}% of the average wholesale price (AWP) of the drug administered",
)

ATTESTERS: tuple[str, ...] = (
    "Leigh Attester", "Maria Gonzalez", "James Whitaker", "Priya Natarajan", "Robert Chen",
    "Angela Brooks", "David Okafor", "Susan Lindqvist", "Michael Reyes", "Karen Novak",
)
