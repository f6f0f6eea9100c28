"""HTTP: change-alert subscriptions, their delivery log and e-mail digests on demand. QUEUE: deliver one
alert (webhook, Teams, Slack, e-mail). TIMER: the daily and weekly digests (HUNTER_DIGEST_SCHEDULE)."""

from shared.hosts.azure import blueprint

bp = blueprint("notifications")  # its triggers are listed in shared/triggers/registry.py (FOLDERS)
