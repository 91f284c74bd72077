"""The transport half of each adapter's error boundary: httpx's exceptions → ours.

The HTTP half (status codes and the CRM's error bodies) is per CRM, in its ``client.py``.
Messages name the exception type only: httpx's texts can carry URLs, and URLs can carry
tokens (Bitrix24's ``auth=``).
"""

from __future__ import annotations

import contextlib
import email.utils
import time
from collections.abc import Iterator

import httpx

from ..exceptions import CrmAmbiguousError, CrmPermanentError, CrmTransientError

__all__ = ["retry_after", "transport_errors"]


@contextlib.contextmanager
def transport_errors(crm: str) -> Iterator[None]:
    """Timeouts and connection failures are transient; a malformed request is permanent.

    A timeout or a dropped connection after the request may have been sent (read/write
    timeout, remote protocol error) is :class:`CrmAmbiguousError`: the CRM may have done it.
    A connect or pool timeout and a refused connection are plain transient (nothing sent)."""
    try:
        yield
    except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise CrmTransientError(f"{crm}: timeout ({type(exc).__name__})", crm=crm) from None
    except httpx.TimeoutException as exc:
        raise CrmAmbiguousError(f"{crm}: no reply ({type(exc).__name__})", crm=crm) from None
    except httpx.TransportError as exc:
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
            raise CrmPermanentError(f"{crm}: bad request ({type(exc).__name__})", crm=crm) from None
        if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
            raise CrmAmbiguousError(f"{crm}: no reply ({type(exc).__name__})", crm=crm) from None
        raise CrmTransientError(f"{crm}: unreachable ({type(exc).__name__})", crm=crm) from None


def retry_after(response: httpx.Response, default: float) -> float:
    """Seconds from a ``Retry-After`` header (delta or HTTP date), else ``default``."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return default
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return default
    return max(0.0, when - time.time())
