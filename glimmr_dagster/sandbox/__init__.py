"""A local PRA-compatible server with generated hospitals and price files.

    from glimmr_dagster.sandbox import SandboxServer, SandboxWorld

    with SandboxServer(SandboxWorld(seed=1), port=0) as sandbox:
        ...  # point clients at sandbox.url (API) and sandbox.storage_url (mirror)

See README.md in this folder for the URL layout, admin routes and fault switches.
"""

from .content import ContentFormat, ContentSpec, HospitalHeader, describe_formats, format_names, register_format
from .faults import FaultBook, FileFaults, is_library_agent
from .persistence import StateFileMismatch
from .server import SandboxServer
from .sessions import RateLimit, SessionPolicy
from .world import DEFAULT_HOSPITALS, DEFAULT_SEED, NATIONAL_HOSPITALS, SandboxWorld

__all__ = [
    "DEFAULT_HOSPITALS",
    "DEFAULT_SEED",
    "NATIONAL_HOSPITALS",
    "ContentFormat",
    "ContentSpec",
    "FaultBook",
    "FileFaults",
    "HospitalHeader",
    "RateLimit",
    "SandboxServer",
    "SandboxWorld",
    "SessionPolicy",
    "StateFileMismatch",
    "describe_formats",
    "format_names",
    "is_library_agent",
    "register_format",
]
