"""HTTP: scan one domain now (POST /api/v1/scan) and rescan a known lead."""

from shared.hosts.azure import blueprint

bp = blueprint("scan")  # its triggers are listed in shared/triggers/registry.py (FOLDERS)
