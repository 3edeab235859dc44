"""Results people read: setpoint files, JSON documents and plots."""

from vpp.report.files import write_dispatch_files
from vpp.report.plots import plot_dispatch

__all__ = ["plot_dispatch", "write_dispatch_files"]
