"""HTTP: scan one domain now (POST /api/v1/scan) and rescan a known lead."""

from shared.triggers.azure import blueprint

bp = blueprint(["scan_domain", "rescan_lead"])
