"""Bulk scan jobs: a job and its items in the store, batches on the ``scan-requests`` queue.

``store`` creates jobs and answers their progress; ``handler`` is the queue function that
scans one batch; ``submit`` ties the two to a queue.
"""

SCAN_QUEUE = "scan-requests"
