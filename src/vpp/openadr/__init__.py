"""OpenADR 2.0b: a VEN that receives a utility VTN's events, decides opt-in from what the
portfolio can deliver, and reports portfolio load and delivered response.

The VEN itself (``vpp.openadr.ven``) and the reports need the optional extra
``vpp[openadr]`` (openleadr); the settings, the event mapping and the decision do not.
"""

from vpp.openadr.mapping import DEFAULT_SIMPLE_LEVELS_PCT, UnsupportedEventError, VtnEvent
from vpp.openadr.settings import VenSettings

__all__ = ["DEFAULT_SIMPLE_LEVELS_PCT", "UnsupportedEventError", "VenSettings", "VtnEvent"]
