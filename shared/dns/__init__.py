"""DNS access for the scanner: a fast multiplexed async client and an answer cache."""

from shared.dns.client import Answer, DnsClient, Outcome

__all__ = ["Answer", "DnsClient", "Outcome"]
