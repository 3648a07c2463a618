"""A library's unexpected error while reading one input, as that input's failure.

Parsers and extractors (json, lxml, trafilatura) can fail in ways nobody listed: a
`RecursionError` on a document nested thousands deep, a `MemoryError`, a bug of theirs
on odd bytes. Any of them is the failure of that one input: reported in one line, with
the traceback in the debug log (``geobot -vv``), while the other inputs go on.
"""

from __future__ import annotations

import logging

from index.errors import BadInputError

__all__ = ["unexpected_failure"]

log = logging.getLogger(__name__)


def unexpected_failure(source: str, exc: BaseException) -> BadInputError:
    """`exc`, raised while reading `source`, as a BadInputError saying why in one line."""
    log.debug("reading %s failed", source, exc_info=exc)
    if isinstance(exc, RecursionError):
        reason = "nested too deeply to read"
    elif isinstance(exc, MemoryError):
        reason = "too large to read (out of memory)"
    else:
        detail = (str(exc).strip().splitlines() or [""])[0][:200]
        reason = f"cannot read it ({type(exc).__name__}{': ' + detail if detail else ''})"
    return BadInputError(source, reason)
