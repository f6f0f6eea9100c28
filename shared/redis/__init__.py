"""Redis adapters with in-process fallbacks: the connection, the caches and the rate limits.
A Redis outage degrades (in-process values), never breaks."""
