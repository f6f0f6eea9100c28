"""HTTP: rescan known leads now (POST /api/v1/rescans). TIMER: rescan what is due under the rescan
policy (NCRONTAB from the HUNTER_RESCAN_SCHEDULE app setting, nightly by default)."""

from shared.hosts.azure import blueprint

bp = blueprint("rescan_timer")  # its triggers are listed in shared/triggers/registry.py (FOLDERS)
