"""HTTP: run the Partner Center referral sync now, list and read referrals. TIMER: the scheduled sync
(NCRONTAB from the HUNTER_PC_SYNC_SCHEDULE app setting; does nothing while the integration is off)."""

from shared.hosts.azure import blueprint

bp = blueprint("pc_sync_timer")  # its triggers are listed in shared/triggers/registry.py (FOLDERS)
