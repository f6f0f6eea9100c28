"""Bulk scan jobs: ``submit`` stores a job (:mod:`shared.store.jobs`) and puts its batches on the
``scan-requests`` queue, whose handler is :mod:`shared.services.scan_batch`; ``preview`` reads an
upload the way a job would, without making one.
"""

SCAN_QUEUE = "scan-requests"
RESCAN_SOURCE = "rescan"  # the source of rescan jobs: their batches ask DNS afresh (no cached answers)
