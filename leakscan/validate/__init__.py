"""Opt-in live validation: is a found credential still valid, and whose is it?

Nothing here runs unless the user asks (``--validate``). A credential is only ever sent to
its provider's documented API host (``providers/``) or to a base URL the user named
(``--validate-endpoint``), never to a host taken from scanned content; every call is a
documented read-only one. Results are cached by fingerprint (never the secret).
"""

from __future__ import annotations

from leakscan.validate.runner import Settings, validate_findings

__all__ = ["Settings", "validate_findings"]
