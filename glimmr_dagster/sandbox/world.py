"""The sandbox's hospitals and their price files, and the scenario operations that change them.

`SandboxWorld(seed, hospitals)` generates facilities the way the PRA index lists them: UUID ids,
string-only scalars with the index's oddities (empty names, junk bed counts and coordinates, CCNs
with leading zeros or empty, keys missing altogether), health systems whose members share one
file, files mirrored by PRA (some through `storage == "cfu"` links) and hosted by the hospital
(some behind redirects). Every value is a pure function of the seed.

Files come in every format hospitals publish (`format_mix.py`): mostly CMS CSV, some JSON,
XLSX, ZIP- or gzip-wrapped, with encoding or header quirks, a few names that lie about the
content and, with `failing_files=True`, a few failures (HTML pages, empty bodies, hostile ZIPs).

Scenario operations (publish a new version, possibly in another format, add or remove
facilities, add a large file, move a file) go through one `_apply` method, both live and when
replaying the state file, so a restarted sandbox rebuilds exactly the same world.

URLs are stored as paths; the server renders them against its own base URL.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from glimmr_dagster.lib.states import STATE_CODES

from .catalog import ATTESTERS
from .content import ContentSpec, HospitalHeader, content_etag, format_names, get_format
from .format_mix import choose_packaging, fits_name, inner_for
from .geography import FAMILY_NAMES, SAINTS, STATES, STREET_NAMES, STREET_SUFFIXES, StateInfo, allocate_hospitals
from .persistence import ScenarioLog
from .seeding import derive_rng, stable_hex, stable_uuid
from .store import ContentStore

DEFAULT_SEED = 0
DEFAULT_HOSPITALS = 64
NATIONAL_HOSPITALS = 6675
# Comfortably above header rows plus one row, whatever the hospital's name and address.
MIN_LARGE_FILE_SIZE = 64 * 1024

RETRIEVED_STYLES = ("iso_ms_z", "iso_naive", "space", "epoch")
RENDERED_FORMATS = (
    ("cms-csv-3.0-tall", 40),
    ("cms-csv-3.0-wide", 20),
    ("cms-csv-2.2-tall", 25),
    ("cms-csv-2.2-wide", 15),
)
PROJECTS = ("pts-mrf", "hpt-2025", "hpt-2026")
ORIGIN_DIRS = (
    "wp-content/uploads/{year}/{month:02d}",
    "documents/price-transparency",
    "-/media/files/billing",
    "sites/default/files/pricing",
    "content/dam/finance/price-transparency",
    "assets/mrf",
)
FILETYPES = ("csv", "CSV", "standardcharges", "MRF", "")
OPTIONAL_FACILITY_KEYS = ("address", "phone", "beds", "lat", "long", "ccn", "url")
OPTIONAL_FILE_KEYS = ("pageurl", "filetype", "converted")

_V22_PUBLISHED = (dt.datetime(2025, 1, 2, tzinfo=dt.timezone.utc).timestamp(),
                  dt.datetime(2025, 12, 20, tzinfo=dt.timezone.utc).timestamp())
_V30_PUBLISHED = (dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc).timestamp(),
                  dt.datetime(2026, 4, 30, tzinfo=dt.timezone.utc).timestamp())


def format_retrieved(timestamp: float, style: str) -> str:
    """`retrieved` as the index shows it; the style is a property of the file."""
    moment = dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)
    if style == "iso_ms_z":
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if style == "iso_naive":
        return moment.strftime("%Y-%m-%dT%H:%M:%S")
    if style == "space":
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    if style == "epoch":
        return str(int(timestamp))
    raise ValueError(f"unknown retrieved style {style!r}")


def slugify(text: str, separator: str = "-") -> str:
    return re.sub(r"[^a-z0-9]+", separator, text.lower().replace("'", "")).strip(separator)


@dataclass(frozen=True)
class FileVersion:
    number: int
    published_at: float
    spec: ContentSpec


@dataclass
class HostedFile:
    fileid: str
    host: str
    filename: str
    rows: int
    hospital: HospitalHeader
    project: str
    storage: str
    mirror_object: str
    cfu_link_absolute: bool
    origin_path: str
    canonical_path: str
    redirect_status: int
    pageurl_path: str
    filetype: str
    converted: bool
    retrieved_style: str
    omitted_keys: tuple[str, ...] = ()
    versions: list[FileVersion] = field(default_factory=list)
    moves: int = 0
    # The file name without its extension(s); a new format may give the file a new extension.
    stem: str = ""

    @property
    def current(self) -> FileVersion:
        return self.versions[-1]

    @property
    def format_name(self) -> str:
        return self.current.spec.format_name

    @property
    def family(self) -> str:
        return get_format(self.format_name).family

    @property
    def extension(self) -> str:
        """How the file name ends after its stem: "csv", "csv.gz", ..."""
        return self.filename[len(self.stem) + 1:] if self.stem else self.filename.rsplit(".", 1)[-1]

    @property
    def suffix(self) -> str:
        """The index's `filesuffix`: the name's last extension, whatever the content is."""
        return self.filename.rsplit(".", 1)[-1].lower()

    @property
    def name_lies(self) -> bool:
        return not fits_name(self.format_name, self.extension)

    @property
    def is_cfu(self) -> bool:
        return self.storage == "cfu"


@dataclass
class Facility:
    id: str
    state: str
    name: str
    # The name the hospital uses in its own files, even when the index lists it without one.
    own_name: str
    address: str
    city: str
    zip: str
    phone: str
    beds: str
    lat: str
    long: str
    ccn: str
    host: str
    website_path: str
    fileids: list[str] = field(default_factory=list)
    omitted_keys: tuple[str, ...] = ()
    system: str = ""
    removed: bool = False

    def postal_address(self) -> str:
        street = f"{self.address}, " if self.address else ""
        return f"{street}{self.city}, {self.state} {self.zip}".strip()


@dataclass(frozen=True)
class OriginTarget:
    """What an `/origin/...` URL is: a file, a redirect, or a page of the hospital's website."""

    kind: str  # file | redirect | home | page | cms-hpt
    fileid: str = ""
    status: int = 200
    location: str = ""
    host: str = ""


class SandboxWorld:
    """All facilities and files of one sandbox, generated from `seed`."""

    def __init__(
        self,
        seed: int = DEFAULT_SEED,
        hospitals: int = DEFAULT_HOSPITALS,
        *,
        state_file: str | Path | None = None,
        store: ContentStore | None = None,
        failing_files: bool = False,
    ):
        """`failing_files` adds a few files that cannot succeed (an HTML page, an empty body, a
        zip-slip or zip-bomb archive); it is part of the world, like the seed."""
        if hospitals < 0:
            raise ValueError("hospitals must be >= 0")
        self.seed = int(seed)
        self.hospital_count = int(hospitals)
        self.failing_files = bool(failing_files)
        self.store = store or ContentStore()
        self._lock = threading.RLock()
        self.facilities: dict[str, Facility] = {}
        self.by_state: dict[str, list[str]] = {code: [] for code in STATE_CODES}
        self.files: dict[str, HostedFile] = {}
        self._mirror_index: dict[str, str] = {}
        self._origin_index: dict[str, str] = {}
        self._redirect_index: dict[str, str] = {}
        self._hosts: dict[str, list[str]] = {}
        self._names_by_state: dict[str, set[str]] = {}
        self._ops_applied = 0
        self._added_facilities = 0
        self._large_files = 0
        started = time.perf_counter()
        self._generate()
        self.generation_seconds = time.perf_counter() - started
        self._log: ScenarioLog | None = None
        self.replayed_ops = 0
        if state_file is not None:
            self._log = ScenarioLog.open(state_file, seed=self.seed, hospitals=self.hospital_count,
                                         failing_files=self.failing_files)
            for op in self._log.replayed_ops:
                self._apply(op)
        self.replayed_ops = self._ops_applied

    # -----------------------------------------------------------------------------------------
    # Generation

    def _generate(self) -> None:
        counts = allocate_hospitals(self.hospital_count)
        for state in STATE_CODES:
            for index in range(counts[state]):
                facility = self._new_facility(state, derive_rng(self.seed, "facility", state, index),
                                              stable_uuid(self.seed, "facility", state, index))
                self._add_facility(facility)
        self._form_health_systems()
        self._blank_some_names()
        for facility_id in list(self.facilities):
            facility = self.facilities[facility_id]
            rng = derive_rng(self.seed, "facility-files", facility_id)
            if facility.system:
                continue
            self._give_files(facility, rng, self._file_count(rng))
        self._ensure_variety()
        self._ensure_format_variety()

    @staticmethod
    def _file_count(rng: Any) -> int:
        roll = rng.random()
        return 0 if roll < 0.06 else 1 if roll < 0.86 else 2 if roll < 0.98 else 3

    def _new_facility(self, state: str, rng: Any, facility_id: str) -> Facility:
        info = STATES[state]
        city = rng.choice(info.cities)
        kind = rng.choices(("general", "critical", "children", "psych", "rehab", "longterm"),
                           weights=(72, 14, 3, 5, 4, 2))[0]
        name = self._unique_name(state, self._hospital_name(rng, kind, city.name))
        street = f"{rng.randint(1, 9999)} {rng.choice(STREET_NAMES)} {rng.choice(STREET_SUFFIXES)}"
        if rng.random() < 0.08:
            street += f", Suite {rng.randint(1, 9) * 100}"
        zip_code = f"{city.zip3}{rng.randint(1, 99):02d}"
        if rng.random() < 0.05:
            zip_code += f"-{rng.randint(1, 9999):04d}"
        host = self._unique_host(rng, name)
        facility = Facility(
            id=facility_id,
            state=state,
            name=name,
            own_name=name,
            address="" if rng.random() < 0.03 else street,
            city=city.name,
            zip="" if rng.random() < 0.02 else zip_code,
            phone=self._phone(rng, info),
            beds=self._beds(rng, kind),
            lat="",
            long="",
            ccn=self._ccn(rng, info, kind),
            host=host,
            website_path=f"/origin/{host}/",
        )
        facility.lat, facility.long = self._coordinates(rng, city.lat, city.lon)
        if rng.random() < 0.04:
            facility.omitted_keys = tuple(sorted(rng.sample(OPTIONAL_FACILITY_KEYS, k=rng.randint(1, 3))))
        return facility

    def _hospital_name(self, rng: Any, kind: str, city: str) -> str:
        saint, family = rng.choice(SAINTS), rng.choice(FAMILY_NAMES)
        patterns = {
            "general": (f"{city} General Hospital", f"{city} Regional Medical Center", f"{saint} Hospital",
                        f"{saint} Medical Center - {city}", f"{family} {city} Hospital",
                        f"{family} Medical Center {city}", f"{city} County Hospital",
                        f"University Hospital of {city}", f"{family} Memorial Hospital"),
            "critical": (f"{city} Community Hospital", f"{city} Memorial Hospital",
                         f"{city} County Memorial Hospital", f"{family} Health {city}"),
            "children": (f"Children's Hospital of {city}", f"{family} Children's Hospital"),
            "psych": (f"{city} Behavioral Health Hospital", f"{saint} Behavioral Health"),
            "rehab": (f"{city} Rehabilitation Hospital", f"Encompass Health Rehabilitation Hospital of {city}"),
            "longterm": (f"Kindred Hospital {city}", f"Select Specialty Hospital - {city}"),
        }
        return rng.choice(patterns[kind])

    def _unique_name(self, state: str, name: str) -> str:
        taken = self._names_by_state.setdefault(state, set())
        candidate = name
        if candidate in taken:
            for campus in ("North", "South", "East", "West", "Downtown", "Lakeside", "Midtown"):
                candidate = f"{name} - {campus} Campus"
                if candidate not in taken:
                    break
            number = 2
            while candidate in taken:
                candidate = f"{name} {number}"
                number += 1
        taken.add(candidate)
        return candidate

    def _unique_host(self, rng: Any, name: str) -> str:
        words = [word for word in slugify(name).split("-") if word not in ("of", "the", "st")][:3]
        base = "".join(words) or "hospital"
        host = f"www.{base}{rng.choice(('.org', '.com', 'health.org', '.net'))}"
        candidate, number = host, 2
        while candidate in self._hosts:
            candidate = host.replace("www.", f"www{number}.", 1)
            number += 1
        self._hosts[candidate] = []
        return candidate

    @staticmethod
    def _phone(rng: Any, info: StateInfo) -> str:
        roll = rng.random()
        if roll < 0.05:
            return ""
        area, exchange, line = rng.choice(info.area_codes), rng.randint(200, 989), rng.randint(0, 9999)
        if roll < 0.55:
            return f"({area}) {exchange}-{line:04d}"
        if roll < 0.85:
            return f"{area}-{exchange}-{line:04d}"
        if roll < 0.95:
            return f"{area}{exchange}{line:04d}"
        return f"{area}.{exchange}.{line:04d}"

    @staticmethod
    def _beds(rng: Any, kind: str) -> str:
        roll = rng.random()
        if roll < 0.06:
            return ""
        if roll < 0.09:
            return rng.choice(("N/A", "approx. 120", "120 beds", "-", "TBD", "unknown"))
        low, high = {"general": (50, 900), "critical": (10, 25), "children": (80, 400), "psych": (20, 150),
                     "rehab": (30, 90), "longterm": (20, 80)}[kind]
        return str(rng.randint(low, high))

    @staticmethod
    def _coordinates(rng: Any, lat: float, lon: float) -> tuple[str, str]:
        roll = rng.random()
        if roll < 0.02:
            return "", ""
        if roll < 0.035:
            return rng.choice((("0", "0"), ("N/A", "N/A"), ("not available", ""), ("37.7749", "")))
        digits = rng.choice((4, 6, 7))
        return (f"{lat + rng.uniform(-0.15, 0.15):.{digits}f}", f"{lon + rng.uniform(-0.15, 0.15):.{digits}f}")

    @staticmethod
    def _ccn(rng: Any, info: StateInfo, kind: str) -> str:
        if rng.random() < 0.08:
            return ""
        low, high = {"general": (1, 899), "critical": (1300, 1399), "children": (3300, 3399),
                     "psych": (4000, 4499), "rehab": (3025, 3099), "longterm": (2000, 2299)}[kind]
        return f"{info.ccn_prefix}{rng.randint(low, high):04d}"

    def _add_facility(self, facility: Facility) -> None:
        self.facilities[facility.id] = facility
        self.by_state[facility.state].append(facility.id)
        self._hosts.setdefault(facility.host, []).append(facility.id)

    def _form_health_systems(self) -> None:
        """Group some facilities of a state into health systems that publish one shared file."""
        formed = 0
        for state in STATE_CODES:
            members_left = list(self.by_state[state])
            rng = derive_rng(self.seed, "systems", state)
            position = 0
            while position < len(members_left) - 1:
                if rng.random() < 0.05:
                    size = min(rng.randint(2, 5), len(members_left) - position)
                    self._make_system(members_left[position:position + size], rng)
                    formed += 1
                    position += size
                else:
                    position += 1
        if formed == 0:
            # Small worlds still need one shared fileid: the largest state's first two hospitals.
            state = max(STATE_CODES, key=lambda code: (len(self.by_state[code]), -STATE_CODES.index(code)))
            if len(self.by_state[state]) >= 2:
                self._make_system(self.by_state[state][:2], derive_rng(self.seed, "systems", state, "forced"))

    def _make_system(self, member_ids: list[str], rng: Any) -> None:
        members = [self.facilities[fid] for fid in member_ids]
        brand = rng.choice(FAMILY_NAMES)
        system_name = f"{brand} {rng.choice(('Health', 'Health System', 'Healthcare', 'Medical Group'))}"
        system_host = self._unique_host(rng, system_name)
        for member in members:
            member.system = system_name
        shared = self._new_file(
            rng, owner_key=("system", member_ids[0]), host=system_host, display_name=system_name,
            members=members,
        )
        for member in members:
            member.fileids.append(shared.fileid)
            # Some members also publish a file of their own next to the system's.
            if rng.random() < 0.3:
                own = self._new_file(rng, owner_key=("own", member.id), host=member.host,
                                     display_name=member.own_name, members=[member])
                member.fileids.append(own.fileid)

    def _blank_some_names(self) -> None:
        """A few index records come without a name; real clients skip and count them."""
        candidates = [fid for fid in self.facilities if not self.facilities[fid].system]
        if not candidates:
            return
        count = max(1, round(len(self.facilities) * 0.003))
        rng = derive_rng(self.seed, "blank-names")
        for facility_id in rng.sample(candidates, k=min(count, len(candidates))):
            self.facilities[facility_id].name = ""

    def _give_files(self, facility: Facility, rng: Any, count: int, *, published_at: float | None = None) -> None:
        for number in range(count):
            hosted = self._new_file(rng, owner_key=("own", facility.id, number), host=facility.host,
                                    display_name=facility.own_name, members=[facility],
                                    npi_variant=number > 0, published_at=published_at)
            facility.fileids.append(hosted.fileid)

    def _header(self, rng: Any, display_name: str, members: list[Facility]) -> HospitalHeader:
        state = members[0].state
        license_number = "" if rng.random() < 0.15 else rng.choice((
            str(rng.randint(10000, 999999)), f"{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
            f"H{rng.randint(1000000, 9999999)}"))
        npis = tuple(f"1{rng.randint(0, 999999999):09d}" for _ in range(rng.randint(1, 3)))
        return HospitalHeader(
            hospital_name=display_name,
            location_names=tuple(member.own_name for member in members),
            addresses=tuple(member.postal_address() for member in members),
            state=state,
            license_number=license_number,
            type_2_npis=npis,
            attester_name=rng.choice(ATTESTERS),
        )

    def _new_file(
        self,
        rng: Any,
        *,
        owner_key: tuple[object, ...],
        host: str,
        display_name: str,
        members: list[Facility],
        npi_variant: bool = False,
        published_at: float | None = None,
        format_name: str | None = None,
        target_size: int | None = None,
        directory: str | None = None,
    ) -> HostedFile:
        fileid = stable_hex(24, self.seed, "file", *owner_key)
        inner_format = ""
        if format_name is None:
            drawn = rng.choices([name for name, _ in RENDERED_FORMATS],
                                weights=[weight for _, weight in RENDERED_FORMATS])[0]
            packaging = choose_packaging(self.seed, fileid, drawn, failing_files=self.failing_files)
            format_name, inner_format, extension = packaging.format_name, packaging.inner_format, packaging.extension
        else:
            drawn, extension = format_name, get_format(format_name).extension
        if published_at is None:
            low, high = _V30_PUBLISHED if "-3.0-" in drawn else _V22_PUBLISHED
            published_at = int(rng.uniform(low, high)) + rng.randint(0, 999) / 1000
        ein = f"{rng.randint(10, 99)}{rng.randint(0, 9999999):07d}"
        if rng.random() < 0.1:
            ein = f"{ein[:2]}-{ein[2:]}"
        if npi_variant:
            ein = f"{ein}-1{rng.randint(0, 999999999):09d}"
        name_style = rng.random()
        if name_style < 0.7:
            name_part, tail = slugify(display_name), "standardcharges"
        elif name_style < 0.9:
            name_part, tail = re.sub(r"[^A-Za-z0-9]", "", display_name.title()), "StandardCharges"
        else:
            name_part, tail = slugify(display_name, "_"), "standardcharges"
        stem = f"{ein}_{name_part}_{tail}"
        filename = f"{stem}.{extension}"
        suffix = extension.rsplit(".", 1)[-1]
        moment = dt.datetime.fromtimestamp(published_at, dt.timezone.utc)
        if directory is None:
            directory = rng.choice(ORIGIN_DIRS).format(year=moment.year, month=moment.month)
        canonical = f"/origin/{host}/{directory}/{filename}"
        if canonical in self._origin_index:
            canonical = f"/origin/{host}/{directory}/{fileid}/{filename}"
        redirect_roll = rng.random()
        if redirect_roll < 0.06:
            origin_path, redirect_status = f"/origin/{host}/pricing/download?file={filename}", 302
        elif redirect_roll < 0.1:
            origin_path, redirect_status = f"/origin/{host}/standard-charges/{filename}", 301
        else:
            origin_path, redirect_status = canonical, 0
        project = rng.choice(PROJECTS)
        if rng.random() < 0.15:
            storage, mirror_object = "cfu", f"cfu/{fileid}/{filename}"
        else:
            storage_style = rng.random()
            if storage_style < 0.5:
                storage = f"{fileid}/{filename}"
            elif storage_style < 0.8:
                storage = f"{moment.year}/{moment.month:02d}/{fileid}.{suffix}"
            else:
                storage = f"mrf/{fileid}"
            mirror_object = storage
        rows = int(30 + 270 * rng.random() ** 2)
        hospital = self._header(rng, display_name, members)
        hosted = HostedFile(
            fileid=fileid,
            host=host,
            filename=filename,
            rows=rows,
            hospital=hospital,
            project=project,
            storage=storage,
            mirror_object=mirror_object,
            cfu_link_absolute=rng.random() < 0.5,
            origin_path=origin_path,
            canonical_path=canonical,
            redirect_status=redirect_status,
            pageurl_path=f"/origin/{host}/{rng.choice(('price-transparency/', 'patients/billing/standard-charges'))}",
            filetype=rng.choice(FILETYPES),
            converted=rng.random() < 0.15,
            retrieved_style=rng.choice(RETRIEVED_STYLES),
            omitted_keys=tuple(rng.sample(OPTIONAL_FILE_KEYS, k=1)) if rng.random() < 0.03 else (),
            stem=stem,
        )
        hosted.versions.append(FileVersion(1, published_at, self._spec(hosted, 1, published_at, format_name,
                                                                       target_size, inner_format)))
        self.files[fileid] = hosted
        self._index_file(hosted)
        return hosted

    def _spec(self, hosted: HostedFile, number: int, published_at: float, format_name: str,
              target_size: int | None, inner_format: str = "") -> ContentSpec:
        return ContentSpec(
            format_name=format_name,
            seed=self.seed,
            fileid=hosted.fileid,
            version=number,
            published_at=published_at,
            hospital=hosted.hospital,
            rows=hosted.rows,
            target_size=target_size,
            inner_format=inner_format,
        )

    def _index_file(self, hosted: HostedFile) -> None:
        self._mirror_index[f"{hosted.project}/{hosted.mirror_object}"] = hosted.fileid
        self._origin_index[hosted.canonical_path] = hosted.fileid
        if hosted.redirect_status:
            self._redirect_index[hosted.origin_path] = hosted.fileid

    def _unindex_file(self, hosted: HostedFile) -> None:
        self._mirror_index.pop(f"{hosted.project}/{hosted.mirror_object}", None)
        self._origin_index.pop(hosted.canonical_path, None)
        self._redirect_index.pop(hosted.origin_path, None)

    def _rename(self, hosted: HostedFile, extension: str) -> None:
        """Give the file a name ending in `extension`, as a hospital does when it publishes another
        format; its URLs (origin, redirect, mirror) follow and the old ones stop answering."""
        old_name, old_suffix = hosted.filename, hosted.suffix
        new_name = f"{hosted.stem}.{extension}"
        if new_name == old_name:
            return
        self._unindex_file(hosted)

        def renamed(path: str) -> str:
            if path.endswith(old_name):
                return path[: -len(old_name)] + new_name
            if path.endswith(f"{hosted.fileid}.{old_suffix}"):
                return path[: -len(old_suffix)] + extension.rsplit(".", 1)[-1]
            return path

        hosted.filename = new_name
        hosted.canonical_path = renamed(hosted.canonical_path)
        if hosted.canonical_path in self._origin_index:
            directory = hosted.canonical_path.rsplit("/", 1)[0]
            hosted.canonical_path = f"{directory}/{hosted.fileid}/{new_name}"
        hosted.origin_path = renamed(hosted.origin_path)
        hosted.storage = renamed(hosted.storage)
        hosted.mirror_object = renamed(hosted.mirror_object)
        self._index_file(hosted)

    def _set_format(self, hosted: HostedFile, format_name: str, *, extension: str | None = None) -> None:
        """Change the current version's format in place (generation only, and `use_format`)."""
        version = hosted.current
        inner = inner_for(format_name, version.spec)
        hosted.versions[-1] = replace(version, spec=replace(version.spec, format_name=format_name,
                                                            inner_format=inner))
        if extension is not None:
            self._rename(hosted, extension)

    def _ensure_variety(self) -> None:
        """Make sure even a small world shows every shape a client has to handle at least once."""
        files = list(self.files.values())
        if not files:
            return
        rng = derive_rng(self.seed, "variety")
        order = files[:]
        rng.shuffle(order)
        reserved: set[str] = set()

        def pick(predicate: Any) -> HostedFile | None:
            for hosted in order:
                if hosted.fileid not in reserved and predicate(hosted):
                    reserved.add(hosted.fileid)
                    return hosted
            return None

        for style in RETRIEVED_STYLES:
            if not any(hosted.retrieved_style == style for hosted in files):
                chosen = pick(lambda hosted: True)
                if chosen:
                    chosen.retrieved_style = style
        for absolute in (False, True):
            if not any(hosted.is_cfu and hosted.cfu_link_absolute == absolute for hosted in files):
                chosen = pick(lambda hosted: not hosted.is_cfu)
                if chosen:
                    del self._mirror_index[f"{chosen.project}/{chosen.mirror_object}"]
                    chosen.storage, chosen.mirror_object = "cfu", f"cfu/{chosen.fileid}/{chosen.filename}"
                    chosen.cfu_link_absolute = absolute
                    self._index_file(chosen)
        for status in (301, 302):
            if not any(hosted.redirect_status == status for hosted in files):
                chosen = pick(lambda hosted: not hosted.redirect_status)
                if chosen:
                    chosen.redirect_status = status
                    chosen.origin_path = (f"/origin/{chosen.host}/pricing/download?file={chosen.filename}"
                                          if status == 302 else f"/origin/{chosen.host}/standard-charges/{chosen.filename}")
                    self._index_file(chosen)
        if not any(hosted.omitted_keys for hosted in files):
            chosen = pick(lambda hosted: True)
            if chosen:
                chosen.omitted_keys = ("pageurl",)
        active = [facility for facility in self.facilities.values() if not facility.system]
        if active and not any(facility.omitted_keys for facility in self.facilities.values()):
            rng.choice(active).omitted_keys = ("beds", "phone")
        if len(active) > 2 and not any(not facility.fileids for facility in active):
            # One hospital lists no file at all; its files stay hosted but unlisted.
            named = [facility for facility in active if facility.name]
            rng.choice(named or active).fileids.clear()

    def _ensure_format_variety(self) -> None:
        """Make sure even a small world shows every format a client has to read at least once:
        each plain CMS CSV, JSON of both versions, an XLSX, a ZIP, a gzip, a cp1252 file, a name
        that lies, and (in a world with failing files) each failure.

        Only spare plain CSV files are converted (never the last file of a plain format), in an
        order of their own, so the other variety picks above stay as they are.
        """
        files = list(self.files.values())
        if not files:
            return
        order = files[:]
        derive_rng(self.seed, "format-variety").shuffle(order)
        plain = [name for name, _ in RENDERED_FORMATS]
        counts: dict[str, int] = {}
        for hosted in files:
            if hosted.format_name in plain and not hosted.name_lies:
                counts[hosted.format_name] = counts.get(hosted.format_name, 0) + 1

        def spare(prefer_version: str = "") -> HostedFile | None:
            candidates = [hosted for hosted in order
                          if counts.get(hosted.format_name, 0) > 1 and not hosted.name_lies]
            preferred = [hosted for hosted in candidates if f"-{prefer_version}-" in hosted.format_name]
            chosen = (preferred or candidates or [None])[0]
            if chosen is not None:
                counts[chosen.format_name] -= 1
            return chosen

        for format_name in plain:
            if not counts.get(format_name):
                chosen = spare()
                if chosen:
                    self._set_format(chosen, format_name, extension="csv")
                    counts[format_name] = 1

        def present(predicate: Callable[[HostedFile], bool]) -> bool:
            return any(predicate(hosted) for hosted in files)

        # (what must be there, the CMS version a spare file should have, the format it becomes)
        wanted: list[tuple[Callable[[HostedFile], bool], str, str]] = [
            (lambda hosted: hosted.format_name == "cms-json-3.0", "3.0", "cms-json-3.0"),
            (lambda hosted: hosted.format_name == "cms-json-2.2", "2.2", "cms-json-2.2"),
            (lambda hosted: hosted.family == "xlsx", "", "cms-xlsx-{version}-{layout}"),
            (lambda hosted: hosted.family == "zip", "", "wrapped-zip-csv"),
            (lambda hosted: hosted.family == "gzip", "", "wrapped-gzip-csv"),
            (lambda hosted: hosted.format_name.endswith("-cp1252"), "", "cms-csv-{version}-{layout}-cp1252"),
        ]
        if self.failing_files:
            for hostile in ("hostile-html-page", "hostile-empty", "hostile-zip-slip", "hostile-zip-bomb"):
                wanted.append((lambda hosted, name=hostile: hosted.format_name == name, "", hostile))
        for is_there, version, template in wanted:
            if present(is_there):
                continue
            chosen = spare(version)
            if chosen:
                plain_format = get_format(chosen.format_name)
                new_format = template.format(version=plain_format.cms_version, layout=plain_format.layout)
                # A failure answers at the name the file has.
                keep_name = get_format(new_format).family == "failure"
                self._set_format(chosen, new_format, extension=None if keep_name else get_format(new_format).extension)
        if not present(lambda h: h.name_lies and h.family != "failure"):
            chosen = spare()
            if chosen:
                self._rename(chosen, "json")

    # -----------------------------------------------------------------------------------------
    # Reading

    def _file_record(self, hosted: HostedFile, version: FileVersion, base_url: str) -> dict[str, Any]:
        record: dict[str, Any] = {
            "fileid": hosted.fileid,
            "filename": hosted.filename,
            "filesuffix": hosted.suffix,
            "filetype": hosted.filetype,
            "retrieved": format_retrieved(version.published_at, hosted.retrieved_style),
            "size": str(self.store.size(version.spec)),
            "url": base_url + hosted.origin_path,
            "pageurl": base_url + hosted.pageurl_path,
            "converted": hosted.converted,
            "storage": hosted.storage,
            "project": hosted.project,
        }
        for key in hosted.omitted_keys:
            record.pop(key, None)
        return record

    def _facility_snapshot(self, facility_ids: list[str]) -> list[tuple[Facility, list[tuple[HostedFile, FileVersion]]]]:
        with self._lock:
            snapshot = []
            for facility_id in facility_ids:
                facility = self.facilities.get(facility_id)
                if facility is None or facility.removed:
                    continue
                files = [(self.files[fileid], self.files[fileid].current) for fileid in facility.fileids]
                snapshot.append((facility, files))
            return snapshot

    def _facility_record(self, facility: Facility, files: list[tuple[HostedFile, FileVersion]],
                         base_url: str) -> dict[str, Any]:
        record: dict[str, Any] = {
            "id": facility.id,
            "name": facility.name,
            "address": facility.address,
            "city": facility.city,
            "state": facility.state,
            "zip": facility.zip,
            "phone": facility.phone,
            "beds": facility.beds,
            "lat": facility.lat,
            "long": facility.long,
            "ccn": facility.ccn,
            "url": base_url + facility.website_path,
            "files": [self._file_record(hosted, version, base_url) for hosted, version in files],
        }
        for key in facility.omitted_keys:
            record.pop(key, None)
        return record

    def search(self, state: str, text: str = "", base_url: str = "") -> list[dict[str, Any]]:
        """Facility records of a state (all states when `state` is empty) matching `text`.

        `text` matches name, city or zip as a case-insensitive substring, as the index's free-text
        search does.
        """
        needle = text.strip().lower()
        with self._lock:
            if state:
                candidates = list(self.by_state.get(state.upper(), ()))
            else:
                candidates = [fid for code in STATE_CODES for fid in self.by_state[code]]
            if needle:
                candidates = [
                    fid for fid in candidates
                    if needle in self.facilities[fid].name.lower()
                    or needle in self.facilities[fid].city.lower()
                    or needle in self.facilities[fid].zip.lower()
                ]
        return [self._facility_record(facility, files, base_url)
                for facility, files in self._facility_snapshot(candidates)]

    def facility_record(self, facility_id: str, base_url: str = "") -> dict[str, Any] | None:
        snapshot = self._facility_snapshot([facility_id])
        return self._facility_record(*snapshot[0], base_url) if snapshot else None

    def file_link(self, fileid: str, base_url: str) -> str | None:
        """What `/file/link/{fileid}` answers: relative to `storage/{project}/`, or absolute."""
        with self._lock:
            hosted = self.files.get(fileid)
            if hosted is None:
                return None
            if hosted.cfu_link_absolute:
                return f"{base_url}/storage/{hosted.project}/{hosted.mirror_object}"
            return hosted.mirror_object

    def resolve_mirror(self, object_path: str) -> str | None:
        """The fileid PRA's mirror serves at `/storage/{object_path}`."""
        with self._lock:
            return self._mirror_index.get(object_path)

    def resolve_origin(self, path: str) -> OriginTarget | None:
        """What the hospital website serves at `path` (a path under `/origin/`, query included)."""
        with self._lock:
            fileid = self._origin_index.get(path)
            if fileid is not None:
                return OriginTarget("file", fileid=fileid)
            fileid = self._redirect_index.get(path)
            if fileid is not None:
                hosted = self.files[fileid]
                return OriginTarget("redirect", fileid=fileid, status=hosted.redirect_status,
                                    location=hosted.canonical_path)
            parts = path.split("?", 1)[0].split("/")
            if len(parts) >= 3 and parts[2] in self._hosts:
                host, rest = parts[2], "/".join(parts[3:])
                if rest == "":
                    return OriginTarget("home", host=host)
                if rest == "cms-hpt.txt":
                    return OriginTarget("cms-hpt", host=host)
                if rest in ("price-transparency/", "patients/billing/standard-charges"):
                    return OriginTarget("page", host=host)
            return None

    def current_version(self, fileid: str) -> tuple[HostedFile, FileVersion] | None:
        with self._lock:
            hosted = self.files.get(fileid)
            return (hosted, hosted.current) if hosted else None

    def listed_fileids(self) -> list[str]:
        """Fileids listed under at least one facility still in the index, in a stable order."""
        with self._lock:
            seen: dict[str, None] = {}
            for facility in self.facilities.values():
                if not facility.removed:
                    for fileid in facility.fileids:
                        seen.setdefault(fileid, None)
            return list(seen)

    def facilities_listing(self, fileid: str) -> list[str]:
        with self._lock:
            return [facility.id for facility in self.facilities.values()
                    if not facility.removed and fileid in facility.fileids]

    def website(self, host: str, base_url: str) -> dict[str, Any]:
        """What a hospital website shows: its locations and the files they publish."""
        with self._lock:
            entries = []
            for facility_id in self._hosts.get(host, []):
                facility = self.facilities[facility_id]
                for fileid in facility.fileids:
                    hosted = self.files[fileid]
                    entries.append({
                        "location": facility.own_name,
                        "page": base_url + hosted.pageurl_path,
                        "mrf": base_url + hosted.origin_path,
                    })
            for hosted in self.files.values():
                if hosted.host == host and not any(entry["mrf"] == base_url + hosted.origin_path
                                                   for entry in entries):
                    entries.append({"location": hosted.hospital.hospital_name,
                                    "page": base_url + hosted.pageurl_path,
                                    "mrf": base_url + hosted.origin_path})
            return {"host": host, "entries": entries}

    def file_info(self, fileid: str, base_url: str = "") -> dict[str, Any] | None:
        with self._lock:
            hosted = self.files.get(fileid)
            if hosted is None:
                return None
            version = hosted.current
            info = {
                "fileid": fileid,
                "format": version.spec.format_name,
                "inner_format": version.spec.inner_format,
                "family": hosted.family,
                "filesuffix": hosted.suffix,
                "name_lies": hosted.name_lies,
                "version": version.number,
                "published_at": version.published_at,
                "retrieved": format_retrieved(version.published_at, hosted.retrieved_style),
                "etag": content_etag(version.spec),
                "url": base_url + hosted.origin_path,
                "canonical_url": base_url + hosted.canonical_path,
                "redirect_status": hosted.redirect_status,
                "mirror_url": f"{base_url}/storage/{hosted.project}/{hosted.mirror_object}",
                "storage": hosted.storage,
                "project": hosted.project,
                "filename": hosted.filename,
                "moves": hosted.moves,
                "versions": [{"version": v.number, "published_at": v.published_at,
                              "format": v.spec.format_name, "inner_format": v.spec.inner_format}
                             for v in hosted.versions],
            }
        info["facilities"] = self.facilities_listing(fileid)
        info["size"] = self.store.size(version.spec)
        return info

    def summary(self) -> dict[str, Any]:
        with self._lock:
            active = [facility for facility in self.facilities.values() if not facility.removed]
            listed = self.listed_fileids()
            listings: dict[str, int] = {}
            for facility in active:
                for fileid in facility.fileids:
                    listings[fileid] = listings.get(fileid, 0) + 1
            formats: dict[str, int] = {}
            families: dict[str, int] = {}
            for fileid in listed:
                name = self.files[fileid].format_name
                formats[name] = formats.get(name, 0) + 1
                family = self.files[fileid].family
                families[family] = families.get(family, 0) + 1
            return {
                "seed": self.seed,
                "hospitals_requested": self.hospital_count,
                "facilities": len(active),
                "removed_facilities": len(self.facilities) - len(active),
                "facilities_by_state": {code: sum(1 for fid in self.by_state[code]
                                                  if not self.facilities[fid].removed) for code in STATE_CODES},
                "facilities_without_name": sum(1 for facility in active if not facility.name),
                "facilities_without_files": sum(1 for facility in active if not facility.fileids),
                "files": len(self.files),
                "listed_files": len(listed),
                "shared_files": sorted(fileid for fileid, count in listings.items() if count > 1),
                "cfu_files": sum(1 for fileid in listed if self.files[fileid].is_cfu),
                "redirecting_files": sum(1 for fileid in listed if self.files[fileid].redirect_status),
                "formats": dict(sorted(formats.items())),
                "format_families": dict(sorted(families.items())),
                "misnamed_files": sum(1 for fileid in listed if self.files[fileid].name_lies),
                "failing_files": self.failing_files,
                "large_files": sorted(fileid for fileid in listed
                                      if get_format(self.files[fileid].format_name).streaming),
                "republished_files": sum(1 for hosted in self.files.values() if len(hosted.versions) > 1),
                "operations_applied": self._ops_applied,
                "operations_replayed": self.replayed_ops,
                "state_file": str(self._log.path) if self._log else None,
                "generation_seconds": round(self.generation_seconds, 3),
                "content_cache": self.store.stats(),
            }

    # -----------------------------------------------------------------------------------------
    # Scenario operations

    def _record(self, op: dict[str, Any]) -> Any:
        with self._lock:
            result = self._apply(op)
            if self._log is not None:
                self._log.append(op)
            return result

    def publish(
        self,
        fileids: list[str] | None = None,
        *,
        fraction: float | None = None,
        at: float | None = None,
        selection_seed: int | None = None,
        format: str | None = None,  # noqa: A002 - the name users know from the admin route
    ) -> list[dict[str, Any]]:
        """Publish a new version (new bytes, `retrieved`, `size`) of the given files, or of a
        random `fraction` of the listed files. Other files are untouched.

        With `format` (a name from `format_names()`), the new versions are in that format: a
        wrapper carries the file's own CMS version and layout, and the file's name (so its URLs)
        takes the format's extension unless it already fits, or the format is a failure, which
        answers at the old name. Without it, each file keeps its format.
        """
        if format is not None:
            if format not in format_names():
                raise ValueError(f"unknown content format {format!r}; GET /_sandbox/formats lists them")
            if get_format(format).streaming:
                raise ValueError(f"{format} is streamed at an exact size: use add_large_file")
        with self._lock:
            if fileids is None:
                if fraction is None:
                    raise ValueError("publish needs fileids or a fraction")
                if not 0 <= fraction <= 1:
                    raise ValueError("fraction must be between 0 and 1")
                listed = self.listed_fileids()
                count = round(len(listed) * fraction)
                if fraction > 0:
                    count = max(count, 1)
                rng = derive_rng(self.seed, "publish", self._ops_applied, selection_seed)
                position = {fileid: index for index, fileid in enumerate(listed)}
                fileids = sorted(rng.sample(listed, k=min(count, len(listed))), key=position.__getitem__)
            unknown = [fileid for fileid in fileids if fileid not in self.files]
            if unknown:
                raise KeyError(f"unknown fileid(s): {', '.join(unknown)}")
            op: dict[str, Any] = {"op": "publish", "fileids": list(dict.fromkeys(fileids)),
                                  "at": at if at is not None else time.time()}
            if format is not None:
                op["format"] = format
            return self._record(op)

    def replace_current_format(self, fileid: str, format_name: str) -> None:
        """Serve the current version in another format from the next request on: same version
        number and URL, as when a hospital replaces its file without PRA noticing. Not written
        to the state file (use `publish(..., format=...)` for that)."""
        if format_name not in format_names():
            raise KeyError(f"unknown content format {format_name!r}")
        if get_format(format_name).streaming:
            raise ValueError(f"{format_name} is streamed at an exact size: use add_large_file")
        with self._lock:
            self._set_format(self.files[fileid], format_name)

    def add_facilities(self, state: str, count: int = 1, *, at: float | None = None) -> list[str]:
        state = state.upper()
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}")
        if count < 1:
            raise ValueError("count must be >= 1")
        return self._record({"op": "add_facilities", "state": state, "count": int(count),
                             "at": at if at is not None else time.time()})

    def remove_facilities(self, facility_ids: list[str]) -> list[str]:
        with self._lock:
            unknown = [fid for fid in facility_ids if fid not in self.facilities]
            if unknown:
                raise KeyError(f"unknown facility id(s): {', '.join(unknown)}")
            return self._record({"op": "remove_facilities", "ids": list(dict.fromkeys(facility_ids))})

    def add_large_file(
        self,
        size: int,
        *,
        fileid: str | None = None,
        facility_id: str | None = None,
        state: str | None = None,
        cms_version: str = "3.0",
        at: float | None = None,
        kind: str = "csv",
    ) -> dict[str, Any]:
        """Add a streamed CMS file of exactly `size` bytes (a tall CSV, or JSON with
        `kind="json"`), or make file `fileid` one.

        Without `fileid` the file is listed under `facility_id` (default: the first named facility
        of `state`, default the first state with one).
        """
        if cms_version not in ("2.2", "3.0"):
            raise ValueError("cms_version must be 2.2 or 3.0")
        if kind not in ("csv", "json"):
            raise ValueError("kind must be csv or json")
        with self._lock:
            if fileid is not None and fileid not in self.files:
                raise KeyError(f"unknown fileid {fileid}")
            if fileid is None:
                facility_id = facility_id or self._default_large_owner(state)
                if facility_id not in self.facilities:
                    raise KeyError(f"unknown facility id {facility_id}")
            if size < MIN_LARGE_FILE_SIZE:
                raise ValueError(f"a large file must be at least {MIN_LARGE_FILE_SIZE} bytes")
            op: dict[str, Any] = {"op": "add_large_file", "size": int(size), "fileid": fileid,
                                  "facility_id": facility_id, "cms_version": cms_version,
                                  "at": at if at is not None else time.time()}
            if kind != "csv":
                op["kind"] = kind
            return self._record(op)

    def _default_large_owner(self, state: str | None) -> str:
        states = [state.upper()] if state else list(STATE_CODES)
        for code in states:
            for facility_id in self.by_state.get(code, []):
                facility = self.facilities[facility_id]
                if facility.name and not facility.removed:
                    return facility_id
        raise KeyError(f"no facility to hold a large file in {state or 'any state'}")

    def move_file(self, fileid: str) -> str:
        """Give a file a new origin URL (same fileid); the old URL then answers 404."""
        with self._lock:
            if fileid not in self.files:
                raise KeyError(f"unknown fileid {fileid}")
            return self._record({"op": "move_file", "fileid": fileid})

    def _apply(self, op: dict[str, Any]) -> Any:
        kind = op.get("op")
        handler = getattr(self, f"_apply_{kind}", None)
        if handler is None:
            raise ValueError(f"unknown scenario operation {kind!r}")
        with self._lock:
            result = handler(op)
            self._ops_applied += 1
            return result

    def _new_version(self, hosted: HostedFile, at: float, *, format_name: str | None = None,
                     target_size: int | None = None) -> FileVersion:
        previous = hosted.current
        published_at = max(float(at), previous.published_at + 1.0)
        number = previous.number + 1
        inner_format = inner_for(format_name, previous.spec) if format_name else previous.spec.inner_format
        format_name = format_name or previous.spec.format_name
        if target_size is None and get_format(format_name).streaming:
            # A republished large file changes size too, by a few bytes.
            base_size = previous.spec.target_size or 0
            target_size = base_size + derive_rng(self.seed, hosted.fileid, number, "size").randint(1, 4096)
        version = FileVersion(number, published_at, self._spec(hosted, number, published_at, format_name,
                                                               target_size, inner_format))
        hosted.versions.append(version)
        return version

    def _name_after_format(self, hosted: HostedFile) -> None:
        """After a change of format, a file's name fits the new content (failures keep theirs)."""
        if hosted.family != "failure" and hosted.name_lies:
            self._rename(hosted, get_format(hosted.format_name).extension)

    def _apply_publish(self, op: dict[str, Any]) -> list[dict[str, Any]]:
        published = []
        format_name = op.get("format")
        for fileid in op["fileids"]:
            hosted = self.files[fileid]
            version = self._new_version(hosted, op["at"], format_name=format_name)
            if format_name:
                self._name_after_format(hosted)
            published.append({"fileid": fileid, "version": version.number,
                              "retrieved": format_retrieved(version.published_at, hosted.retrieved_style),
                              "format": version.spec.format_name, "filename": hosted.filename})
        return published

    def _apply_add_facilities(self, op: dict[str, Any]) -> list[str]:
        added = []
        for _ in range(op["count"]):
            sequence = self._added_facilities
            self._added_facilities += 1
            rng = derive_rng(self.seed, "added-facility", sequence)
            facility = self._new_facility(op["state"], rng, stable_uuid(self.seed, "added-facility", sequence))
            self._add_facility(facility)
            self._give_files(facility, rng, 1, published_at=float(op["at"]))
            added.append(facility.id)
        return added

    def _apply_remove_facilities(self, op: dict[str, Any]) -> list[str]:
        removed = []
        for facility_id in op["ids"]:
            facility = self.facilities[facility_id]
            if not facility.removed:
                facility.removed = True
                self.by_state[facility.state].remove(facility_id)
                removed.append(facility_id)
        return removed

    def _apply_add_large_file(self, op: dict[str, Any]) -> dict[str, Any]:
        cms_version = op.get("cms_version", "3.0")
        format_name = (f"cms-json-{cms_version}-large" if op.get("kind") == "json"
                       else f"cms-csv-{cms_version}-tall-large")
        if op.get("fileid"):
            hosted = self.files[op["fileid"]]
            version = self._new_version(hosted, op["at"], format_name=format_name, target_size=op["size"])
            self._name_after_format(hosted)
        else:
            facility = self.facilities[op["facility_id"]]
            sequence = self._large_files
            rng = derive_rng(self.seed, "large-file", sequence)
            hosted = self._new_file(rng, owner_key=("large", sequence), host=facility.host,
                                    display_name=facility.own_name, members=[facility],
                                    published_at=float(op["at"]), format_name=format_name,
                                    target_size=op["size"], directory="mrf/full")
            facility.fileids.append(hosted.fileid)
            version = hosted.current
        self._large_files += 1
        return {"fileid": hosted.fileid, "version": version.number, "size": version.spec.target_size,
                "etag": content_etag(version.spec), "path": hosted.origin_path,
                "mirror_path": f"/storage/{hosted.project}/{hosted.mirror_object}"}

    def _apply_move_file(self, op: dict[str, Any]) -> str:
        hosted = self.files[op["fileid"]]
        self._origin_index.pop(hosted.canonical_path, None)
        self._redirect_index.pop(hosted.origin_path, None)
        hosted.moves += 1
        year = dt.datetime.fromtimestamp(hosted.current.published_at, dt.timezone.utc).year
        hosted.canonical_path = f"/origin/{hosted.host}/files/{year}-moved-{hosted.moves}/{hosted.filename}"
        hosted.origin_path = hosted.canonical_path
        hosted.redirect_status = 0
        self._index_file(hosted)
        return hosted.origin_path
