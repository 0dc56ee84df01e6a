"""The config field type for credentials: stripped, single-line, held as a redacted `Secret`."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from plano_daemon.secret import Secret, control_characters


def _secret(value: str) -> Secret:
    """Strip surrounding whitespace (an env file's stray newline or space) and refuse control characters;
    the message never repeats the value."""
    value = value.strip()
    if control_characters(value):
        raise ValueError("contains a control character (a secret must be one line of printable text)")
    return Secret(value)


#: A config field holding a credential: stripped, single-line, redacted in every repr.
SecretText = Annotated[str, AfterValidator(_secret)]
