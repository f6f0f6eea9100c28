"""The scan engine: collect DNS and WHOIS evidence for many domains at once (collector, pipeline,
worker processes), classify and score it with the pure core, hand the results to a sink."""
