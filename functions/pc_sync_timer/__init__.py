"""HTTP: run the Partner Center referral sync now, list and read referrals. TIMER: the scheduled sync
(NCRONTAB from the HUNTER_PC_SYNC_SCHEDULE app setting; does nothing while the integration is off)."""

from shared.triggers.azure import add_timer_functions, blueprint

bp = add_timer_functions(
    blueprint(["sync_partner_center", "list_referrals", "get_referral"]),
    ["pc_sync_timer"],
)
