"""The 51 jurisdictions the PRA index lists hospitals under: 50 states and DC."""

STATE_CODES: tuple[str, ...] = (
    "AK", "AL", "AR", "AZ", "CA", "CO", "CT", "DC", "DE", "FL",
    "GA", "HI", "IA", "ID", "IL", "IN", "KS", "KY", "LA", "MA",
    "MD", "ME", "MI", "MN", "MO", "MS", "MT", "NC", "ND", "NE",
    "NH", "NJ", "NM", "NV", "NY", "OH", "OK", "OR", "PA", "RI",
    "SC", "SD", "TN", "TX", "UT", "VA", "VT", "WA", "WI", "WV",
    "WY",
)

# The states a test-mode deployment scans: large, varied, and enough to exercise every path.
TEST_MODE_STATES: tuple[str, ...] = ("CA", "FL", "TX")


def is_state_code(value: str) -> bool:
    return value in STATE_CODES
