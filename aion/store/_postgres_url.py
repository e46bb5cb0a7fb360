"""Recognising PostgreSQL URLs, and the two things aion reads from them.

``postgresql://`` and ``postgres://`` URLs name a PostgreSQL store wherever a
database path is accepted (``aion.Engine(...)``, ``aion --db``, ``AION_DB``).
One query parameter is aion's, not libpq's: ``aion_schema`` chooses the schema
the tables live in; it is removed before the URL reaches the driver.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: The URL schemes that mean PostgreSQL.
SCHEMES: Final = ("postgresql://", "postgres://")
_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")


def is_postgres_url(target: str) -> bool:
    """Whether ``target`` names a PostgreSQL database rather than a DuckDB file."""
    return target.lower().startswith(SCHEMES)


def split_schema(url: str, default: str = "aion") -> tuple[str, str]:
    """``(url without aion_schema, schema)`` for a PostgreSQL URL."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = default
    kept = []
    for key, value in query:
        if key == "aion_schema":
            schema = value
        else:
            kept.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(kept))), schema


def redact(dsn: str) -> str:
    """``dsn`` with any password replaced, fit for messages and logs."""
    text = _PASSWORD.sub(r"\1***@", dsn)
    return re.sub(r"(password\s*=\s*)\S+", r"\1***", text)
