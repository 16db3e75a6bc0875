"""Normalization of the values hospitals publish in price-transparency files.

Every function here is pure and works on one value, so it can be unit-tested directly and reused by
any parser. The parsers apply these same functions to the distinct values of a column (a few
thousand per batch at most) and map the results back onto the column, so a value is normalized the
same way whatever file or format it came from.

Conventions:
- An "unknown" value (a setting, methodology, code type ... outside the CMS enumeration) is kept as
  published (trimmed) and reported as not recognized, never dropped or guessed.
- Numbers are parsed leniently ("$1,234.50", " 1 234 ", "(12.00)"), and the common "no value"
  markers ("N/A", "NA", "-", ...) are reported as missing rather than as unparsable.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from enum import Enum

# ---------------------------------------------------------------------------------------------
# Numbers and money
# ---------------------------------------------------------------------------------------------

# Cells that mean "no value" in real files. Compared after trimming and lower-casing.
MISSING_MARKERS = frozenset(
    {
        "n/a", "na", "n.a.", "n.a", "#n/a", "-", "--", "---", "—", "–", "none", "null", "nil",
        "not applicable", "not available", "no charge established", "tbd", ".", "nan",
    }
)


class NumberStatus(str, Enum):
    OK = "ok"
    MISSING = "missing"  # empty or a "no value" marker such as N/A
    UNPARSABLE = "unparsable"  # text that is not a number ("See notes", "varies")


@dataclass(frozen=True)
class ParsedNumber:
    value: float | None
    status: NumberStatus


_NUMBER_CORE = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$")


def parse_number(text: str | float | int | None, *, allow_percent: bool = False) -> ParsedNumber:
    """Parse a published money amount or number.

    Accepts "$1,234.50", "1234.5", " 1 234.50 ", "(1,234.50)" (accounting negative), "-12",
    "1.5e3", "USD 12", and with `allow_percent` a trailing "%" ("70.5%" is 70.5, not 0.705: CMS
    publishes percentages as 70.5). Rejects "NaN"/"inf" and anything with letters or several
    numbers.
    """
    if text is None:
        return ParsedNumber(None, NumberStatus.MISSING)
    if isinstance(text, bool):
        return ParsedNumber(None, NumberStatus.UNPARSABLE)
    if isinstance(text, (int, float)):
        value = float(text)
        if math.isfinite(value):
            return ParsedNumber(value, NumberStatus.OK)
        return ParsedNumber(None, NumberStatus.UNPARSABLE)
    s = str(text).strip()
    if not s or s.lower() in MISSING_MARKERS:
        return ParsedNumber(None, NumberStatus.MISSING)
    negative = False
    if s.startswith("(") and s.endswith(")"):
        negative = True
        s = s[1:-1].strip()
    if s.endswith("-") and not s.startswith("-"):  # "12.00-" (trailing minus, mainframe style)
        negative = True
        s = s[:-1].strip()
    if allow_percent and s.endswith("%"):
        s = s[:-1].strip()
    upper = s.upper()
    if upper.startswith("USD"):
        s = s[3:].strip()
    elif upper.endswith("USD"):
        s = s[:-3].strip()
    if s.startswith("-$") or s.startswith("+$"):
        s = s[0] + s[2:]
    s = s.replace("$", "").strip()
    s = s.replace(" ", "").replace("\u00a0", "")
    if "," in s:
        if not _THOUSANDS.match(s):
            return ParsedNumber(None, NumberStatus.UNPARSABLE)
        s = s.replace(",", "")
    if not _NUMBER_CORE.match(s):
        return ParsedNumber(None, NumberStatus.UNPARSABLE)
    value = float(s)
    if not math.isfinite(value):
        return ParsedNumber(None, NumberStatus.UNPARSABLE)
    return ParsedNumber(-value if negative else value, NumberStatus.OK)


def parse_money(text: str | float | int | None) -> float | None:
    """The amount in `text`, or None when it is missing or not a number."""
    return parse_number(text).value


_NINES = re.compile(r"^9{7,}(?:\.9+)?$|^9{7,}\.0+$")


def is_placeholder_amount(text: str | float | int | None) -> bool:
    """True for the "nine 9s" style stand-ins hospitals publish instead of a real amount.

    CMS once advised 999999999 when there was not enough history; files also carry 9999999,
    99999999.99 and similar. Any run of seven or more 9s (optionally with 9s or 0s after the
    decimal point) counts; the value itself is kept as published.
    """
    if text is None:
        return False
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if not math.isfinite(float(text)) or float(text) < 9_999_999:
            return False
        text = repr(float(text))
        if text.endswith(".0"):
            text = text[:-2]
    s = str(text).strip().replace("$", "").replace(",", "")
    return bool(_NINES.match(s))


# ---------------------------------------------------------------------------------------------
# Code types and codes
# ---------------------------------------------------------------------------------------------

# The CMS code-type enumeration: 19 values in v2.x, plus CMG and MS-LTC-DRG in v3.0.
CMS_CODE_TYPES = (
    "CPT", "HCPCS", "ICD", "DRG", "MS-DRG", "R-DRG", "S-DRG", "APS-DRG", "AP-DRG", "APR-DRG",
    "APC", "NDC", "HIPPS", "LOCAL", "EAPG", "CDT", "RC", "CDM", "TRIS-DRG", "CMG", "MS-LTC-DRG",
)
DRG_CODE_TYPES = frozenset(
    {"DRG", "MS-DRG", "R-DRG", "S-DRG", "APS-DRG", "AP-DRG", "APR-DRG", "TRIS-DRG", "MS-LTC-DRG"}
)

# Spellings seen in real files, keyed by the squeezed upper-case form (spaces, dots, slashes and
# underscores removed, hyphens kept out too) so "CPT-4", "cpt 4" and "CPT®4" all land on CPT4.
_CODE_TYPE_ALIASES = {
    "CPT": "CPT", "CPT4": "CPT", "CPTR": "CPT", "CPTCODE": "CPT", "AMACPT": "CPT",
    "HCPCS": "HCPCS", "HCPCSII": "HCPCS", "HCPCS2": "HCPCS", "HCPCSLEVELII": "HCPCS",
    "HCPCSLEVEL2": "HCPCS", "HCPC": "HCPCS", "HCPCSCODE": "HCPCS",
    "RC": "RC", "REV": "RC", "REVENUE": "RC", "REVCODE": "RC", "REVENUECODE": "RC", "REVCD": "RC",
    "UB04": "RC", "UBREV": "RC",
    "ICD": "ICD", "ICD10": "ICD", "ICD10CM": "ICD", "ICD10PCS": "ICD", "ICD9": "ICD",
    "DRG": "DRG", "MSDRG": "MS-DRG", "RDRG": "R-DRG", "SDRG": "S-DRG", "APSDRG": "APS-DRG",
    "APDRG": "AP-DRG", "APRDRG": "APR-DRG", "TRISDRG": "TRIS-DRG", "MSLTCDRG": "MS-LTC-DRG",
    "APC": "APC", "NDC": "NDC", "NDC11": "NDC", "NDCCODE": "NDC", "HIPPS": "HIPPS",
    "LOCAL": "LOCAL", "LOCALCODE": "LOCAL", "INTERNAL": "LOCAL", "CUSTOM": "LOCAL",
    "EAPG": "EAPG", "CDT": "CDT", "CDM": "CDM", "CHARGECODE": "CDM", "CHARGEMASTER": "CDM",
    "CDMCODE": "CDM", "CMG": "CMG",
}


def normalize_code_type(text: str | None) -> tuple[str | None, bool]:
    """The CMS code type for a published type name, and whether it was recognized.

    "CPT4", "HCPCS II" and "REV" become CPT, HCPCS and RC. An unrecognized type comes back
    trimmed and upper-cased (so "Local Lab" and "LOCAL LAB" agree) with `False`.
    """
    if text is None:
        return None, True
    s = str(text).strip()
    if not s:
        return None, True
    upper = re.sub(r"\s+", " ", s.upper())
    squeezed = re.sub(r"[\s._/\-®™]", "", upper)
    canonical = _CODE_TYPE_ALIASES.get(squeezed)
    if canonical is not None:
        return canonical, True
    return upper, False


_DIGITS = re.compile(r"^\d+$")
_EXCEL_FLOAT = re.compile(r"^(\d+)\.0+$")
_NDC_HYPHENATED = re.compile(r"^(\d{4,5})-(\d{3,4})-(\d{1,2})$")


def normalize_ndc(text: str) -> tuple[str, bool]:
    """An NDC as 11 digits (5-4-2 without hyphens), and whether the form was unambiguous.

    Hyphenated 10-digit NDCs (4-4-2, 5-3-2, 5-4-1) are padded in the short segment; an 11-digit
    value is kept. A 10-digit value without hyphens cannot be padded safely (the short segment is
    unknown), so it is returned as published with `False`.
    """
    s = str(text).strip().replace(" ", "")
    m = _NDC_HYPHENATED.match(s)
    if m:
        labeler, product, package = m.groups()
        if len(labeler) + len(product) + len(package) == 11:
            return labeler + product + package, True
        if len(labeler) + len(product) + len(package) == 10:
            return labeler.zfill(5) + product.zfill(4) + package.zfill(2), True
        return s, False
    digits = s.replace("-", "")
    if _DIGITS.match(digits) and len(digits) == 11:
        return digits, True
    return s, False


_CODE_FORMATS = {
    "CPT": re.compile(r"^[0-9A-Z]{4}[0-9A-Z]$"),
    "HCPCS": re.compile(r"^[A-Z0-9][0-9]{3}[0-9A-Z]$"),
    "RC": re.compile(r"^\d{4}$"),
    "NDC": re.compile(r"^\d{11}$"),
    "HIPPS": re.compile(r"^[0-9A-Z]{5}$"),
}


def normalize_code(code: str | None, code_type: str | None) -> tuple[str | None, bool]:
    """A code in its standard form for its (already normalized) CMS type, and whether it fits.

    - CPT, HCPCS, HIPPS, CDT, CMG, ICD: trimmed and upper-cased; an all-digit CPT/HCPCS code
      shorter than 5 digits is zero-padded (spreadsheets drop leading zeros, "100" is 00100).
    - DRG family: digits zero-padded to 3 ("1" is 001); "DRG 470" becomes 470.
    - RC (revenue code): digits zero-padded to 4 ("450" is 0450).
    - NDC: 11 digits, see `normalize_ndc`.
    - Everything else (CDM, LOCAL, APC, EAPG, unknown types): trimmed only.
    Spreadsheet float artefacts ("70551.0") lose their ".0" for all-digit codes. The boolean is
    False when the result does not have the shape the type requires; the code is still kept.
    """
    if code is None:
        return None, True
    s = str(code).strip()
    if not s:
        return None, True
    m = _EXCEL_FLOAT.match(s)
    if m:
        s = m.group(1)
    t = code_type or ""
    if t in ("CPT", "HCPCS", "HIPPS", "CDT", "CMG", "ICD"):
        s = s.upper().replace(" ", "")
        if t in ("CPT", "HCPCS") and _DIGITS.match(s) and len(s) < 5:
            s = s.zfill(5)
        pattern = _CODE_FORMATS.get(t)
        return s, bool(pattern.match(s)) if pattern else True
    if t in DRG_CODE_TYPES:
        stripped = re.sub(r"^(?:MS-?|APR-?|AP-?)?DRG\s*[-#:]?\s*", "", s.upper())
        if _DIGITS.match(stripped) and len(stripped) <= 3:
            return stripped.zfill(3), True
        return s, False
    if t == "RC":
        digits = s.upper().removeprefix("REV").strip()
        if _DIGITS.match(digits) and len(digits) <= 4:
            return digits.zfill(4), True
        return s, False
    if t == "NDC":
        return normalize_ndc(s)
    return s, True


# Which code to show as "the" code of an item: the one most useful for comparing across
# hospitals comes first (procedure codes, then DRGs, then drug and revenue codes, then local).
PRIMARY_CODE_PRIORITY = (
    "CPT", "HCPCS", "MS-DRG", "MS-LTC-DRG", "APR-DRG", "DRG", "AP-DRG", "APS-DRG", "R-DRG",
    "S-DRG", "TRIS-DRG", "CDT", "HIPPS", "CMG", "APC", "EAPG", "NDC", "ICD", "RC", "CDM", "LOCAL",
)


def primary_code_rank(code_type: str | None) -> int:
    """Lower is preferred; unknown types rank after every CMS type."""
    try:
        return PRIMARY_CODE_PRIORITY.index(code_type or "")
    except ValueError:
        return len(PRIMARY_CODE_PRIORITY)


# ---------------------------------------------------------------------------------------------
# Enumerations: settings, methodologies, billing classes, drug units, counts
# ---------------------------------------------------------------------------------------------

SETTINGS = ("inpatient", "outpatient", "both")
METHODOLOGIES = ("case rate", "fee schedule", "percent of total billed charges", "per diem", "other")
BILLING_CLASSES = ("professional", "facility", "both")
DRUG_UNIT_TYPES = ("GR", "ME", "ML", "UN", "F2", "EA", "GM")


def _squeeze(text: str) -> str:
    return re.sub(r"[\s_\-./]+", " ", text.strip().lower()).strip()


_SETTING_ALIASES = {
    "inpatient": "inpatient", "ip": "inpatient", "i": "inpatient", "in patient": "inpatient",
    "outpatient": "outpatient", "op": "outpatient", "o": "outpatient", "out patient": "outpatient",
    "both": "both", "ip op": "both", "inpatient outpatient": "both", "inpatient and outpatient": "both",
    "inpatient & outpatient": "both", "ip and op": "both", "all": "both",
}

_METHODOLOGY_ALIASES = {
    "case rate": "case rate", "caserate": "case rate", "case": "case rate",
    "fee schedule": "fee schedule", "feeschedule": "fee schedule", "fee": "fee schedule",
    "percent of total billed charges": "percent of total billed charges",
    "percentage of total billed charges": "percent of total billed charges",
    "percent of billed charges": "percent of total billed charges",
    "percent of charges": "percent of total billed charges",
    "percentage of charges": "percent of total billed charges",
    "% of total billed charges": "percent of total billed charges",
    "% of charges": "percent of total billed charges",
    "per diem": "per diem", "perdiem": "per diem",
    "other": "other",
}

_BILLING_CLASS_ALIASES = {
    "professional": "professional", "pro": "professional", "prof": "professional",
    "physician": "professional", "pb": "professional",
    "facility": "facility", "hospital": "facility", "institutional": "facility", "hb": "facility",
    "both": "both", "professional and facility": "both", "facility and professional": "both",
}

_DRUG_UNIT_ALIASES = {
    "gr": "GR", "gram": "GR", "grams": "GR", "g": "GR",
    "me": "ME", "mg": "ME", "milligram": "ME", "milligrams": "ME",
    "ml": "ML", "milliliter": "ML", "milliliters": "ML", "millilitre": "ML",
    "un": "UN", "unit": "UN", "units": "UN",
    "f2": "F2", "international unit": "F2", "international units": "F2", "iu": "F2",
    "ea": "EA", "each": "EA",
    "gm": "GM",
}


def _normalize_enum(text: str | None, aliases: dict[str, str]) -> tuple[str | None, bool]:
    if text is None:
        return None, True
    s = str(text).strip()
    if not s:
        return None, True
    key = s.lower()
    hit = aliases.get(key) or aliases.get(_squeeze(key))
    if hit is not None:
        return hit, True
    return s, False


def normalize_setting(text: str | None) -> tuple[str | None, bool]:
    """inpatient / outpatient / both ("IP", "Outpatient", "IP/OP" ...); unknown kept, False."""
    return _normalize_enum(text, _SETTING_ALIASES)


def normalize_methodology(text: str | None) -> tuple[str | None, bool]:
    """One of the five CMS methodologies ("Case Rate", "% of charges" ...); unknown kept, False."""
    return _normalize_enum(text, _METHODOLOGY_ALIASES)


def normalize_billing_class(text: str | None) -> tuple[str | None, bool]:
    """professional / facility / both; unknown kept, False."""
    return _normalize_enum(text, _BILLING_CLASS_ALIASES)


def normalize_drug_unit_type(text: str | None) -> tuple[str | None, bool]:
    """GR, ME, ML, UN, F2, EA or GM ("mL", "each", "units" ...); unknown kept, False."""
    return _normalize_enum(text, _DRUG_UNIT_ALIASES)


_COUNT_RANGE = re.compile(r"^1\s*(?:through|thru|to|-|–)\s*10$")


def normalize_count(text: str | int | float | None) -> tuple[str | None, bool]:
    """The v3 count of allowed amounts: "0", "1 through 10" or an integer of 11 or more.

    "1-10" and "1 to 10" become "1 through 10"; "15.0" becomes "15"; "1,234" becomes "1234".
    Anything else ("5", "many") is kept as published with False.
    """
    if text is None:
        return None, True
    if isinstance(text, bool):
        return str(text), False
    if isinstance(text, (int, float)):
        if float(text).is_integer():
            n = int(text)
            return str(n), n == 0 or n >= 11
        return str(text), False
    s = str(text).strip()
    if not s:
        return None, True
    lowered = re.sub(r"\s+", " ", s.lower())
    if _COUNT_RANGE.match(lowered):
        return "1 through 10", True
    digits = lowered.replace(",", "")
    m = _EXCEL_FLOAT.match(digits)
    if m:
        digits = m.group(1)
    if _DIGITS.match(digits):
        n = int(digits)
        return str(n), n == 0 or n >= 11
    return s, False


# ---------------------------------------------------------------------------------------------
# Payer names
# ---------------------------------------------------------------------------------------------

# Families of payer names, matched on the cleaned upper-case name. The first pattern that matches
# names the family; names outside every family keep their cleaned spelling.
_PAYER_FAMILIES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), name)
    for pattern, name in (
        (r"\bBLUE ?CROSS\b|\bBLUE ?SHIELD\b|\bBCBS\b|\bANTHEM\b|\bHIGHMARK\b|\bPREMERA\b|\bREGENCE\b|\bCAREFIRST\b|\bFLORIDA BLUE\b|\bEMPIRE\b", "Blue Cross Blue Shield"),
        (r"\bUNITED ?HEALTH ?CARE\b|\bUNITED HEALTH\b|\bUHC\b|\bUMR\b|\bOPTUM\b", "UnitedHealthcare"),
        (r"\bAETNA\b", "Aetna"),
        (r"\bCIGNA\b", "Cigna"),
        (r"\bHUMANA\b", "Humana"),
        (r"\bKAISER\b", "Kaiser Permanente"),
        (r"\bMOLINA\b", "Molina Healthcare"),
        (r"\bCENTENE\b|\bAMBETTER\b|\bWELLCARE\b|\bHEALTH ?NET\b", "Centene"),
        (r"\bTRICARE\b", "TRICARE"),
        (r"\bMULTIPLAN\b|\bPHCS\b", "MultiPlan"),
        (r"\bOSCAR\b", "Oscar Health"),
        (r"\bMEDICAID\b", "Medicaid"),
        (r"\bMEDICARE ADVANTAGE\b", "Medicare Advantage"),
        (r"\bMEDICARE\b", "Medicare"),
    )
)

# Bracketed or parenthesized identifiers ("AETNA [1001]", "CIGNA (12345)") and trailing plan ids.
_PAYER_IDS = re.compile(r"\s*[\[(]\s*[A-Z0-9#-]*\d[A-Z0-9#-]*\s*[\])]\s*")


def normalize_payer_name(text: str | None) -> str | None:
    """A payer name people can group by: "BLUE CROSS BLUE SHIELD [110001]" → "Blue Cross Blue Shield".

    Underscores become spaces, bracketed payer ids and extra whitespace go, and names of the large
    national payer families map to one spelling. Other names come back cleaned and upper-cased,
    so "Acme Health" and "ACME  HEALTH" agree.
    """
    if text is None:
        return None
    s = str(text).replace("_", " ").strip()
    if not s:
        return None
    upper = re.sub(r"\s+", " ", s.upper())
    upper = _PAYER_IDS.sub(" ", upper).strip()
    upper = re.sub(r"\s+", " ", upper)
    for pattern, name in _PAYER_FAMILIES:
        if pattern.search(upper):
            return name
    return upper or None


# ---------------------------------------------------------------------------------------------
# Dates, lists, booleans in the general data
# ---------------------------------------------------------------------------------------------

_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][\d:.]+Z?)?$")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?: [\d:]+(?: ?[AP]M)?)?$", re.IGNORECASE)
_EXCEL_SERIAL = re.compile(r"^\d{5}(?:\.0+)?$")


def parse_date(text: str | None) -> dt.date | None:
    """A `last_updated_on` value: "2026-03-27", "4/1/2026", "04/01/2026", an Excel serial day
    number (spreadsheets store dates as 46113), with or without a time part; None if not a date."""
    if text is None:
        return None
    s = str(text).strip()
    try:
        m = _ISO_DATE.match(s)
        if m:
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        m = _US_DATE.match(s)
        if m:
            return dt.date(int(m.group(3)), int(m.group(1)), int(m.group(2)))
        if _EXCEL_SERIAL.match(s):
            return dt.date(1899, 12, 30) + dt.timedelta(days=int(float(s)))
    except ValueError:
        return None
    return None


def split_pipe_list(text: str | None) -> list[str]:
    """`"A | B|C "` → ["A", "B", "C"]: the CSV encoding of location names, addresses and NPIs."""
    if text is None:
        return []
    return [part.strip() for part in str(text).split("|") if part.strip()]


def parse_bool(text: str | bool | None) -> bool | None:
    """The attestation/affirmation value: "true"/"TRUE"/"false" (and yes/no); None otherwise."""
    if isinstance(text, bool):
        return text
    if text is None:
        return None
    s = str(text).strip().lower()
    if s in ("true", "yes", "y", "1"):
        return True
    if s in ("false", "no", "n", "0"):
        return False
    return None
