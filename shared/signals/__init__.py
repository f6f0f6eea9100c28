"""Collect the public evidence about one domain's mail: DNS (and WHOIS) in, a ScanRecord out."""

from shared.signals.collector import Collector

__all__ = ["Collector"]
