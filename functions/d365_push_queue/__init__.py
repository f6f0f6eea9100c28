"""HTTP: queue leads for Dynamics 365 and retry failures. QUEUE: push one lead (upsert by domain)."""

from shared.hosts.azure import blueprint

bp = blueprint("d365_push_queue")  # its triggers are listed in shared/triggers/registry.py (FOLDERS)
