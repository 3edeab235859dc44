"""openleadr, imported once with its import-time side effect undone.

openleadr's client module forces the ``openleadr`` logger to INFO when it is imported,
which would override the level ``vpp serve --log-level`` set; the level in force before the
import is restored here. Import openleadr only through this module.
"""

from __future__ import annotations

import logging
import warnings

_logger = logging.getLogger("openleadr")
_level = _logger.level
try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # signxml's DSA deprecation warnings at import
        from openleadr import enums, objects, utils
        from openleadr.messaging import create_message, parse_message, validate_xml_schema
except ImportError as exc:  # pragma: no cover - the extra is not installed
    raise ImportError("OpenADR needs the optional extra: pip install 'vpp[openadr]'") from exc
finally:
    _logger.setLevel(_level)

__all__ = ["create_message", "enums", "objects", "parse_message", "utils", "validate_xml_schema"]
