"""The pure core: domain input, the scan record model, SPF and DMARC parsing, provider classification,
scoring and sales texts. No I/O: nothing here imports the store, a queue, a client or a trigger."""
