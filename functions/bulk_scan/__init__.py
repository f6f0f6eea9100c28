"""HTTP: submit bulk scans, follow them, administer the queues. QUEUE: scan one batch of a job."""

from shared.hosts.azure import blueprint

bp = blueprint("bulk_scan")  # its triggers are listed in shared/triggers/registry.py (FOLDERS)
