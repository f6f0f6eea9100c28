"""The ``hunter`` command (also ``python -m shared``): one click group, one module per command group.

Every module builds its settings and runtime through :mod:`shared.cli.common`, the CLI's one
composition point (``--db``, the consoles, :func:`~shared.cli.common.runtime_for`).
"""

from __future__ import annotations

import click

from shared.cli.d365 import d365
from shared.cli.email import email
from shared.cli.keys import apikey, connector
from shared.cli.leads import changes, lead, leads
from shared.cli.notify import notify
from shared.cli.pc import pc
from shared.cli.queue import jobs, queue, worker
from shared.cli.rescan import rescan
from shared.cli.scan import demo, scan
from shared.cli.serve import migrate, serve


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hunter")
def main() -> None:
    """Hunter: mail-provider intelligence and lead scoring from public DNS.

    Settings come from HUNTER_* environment variables (see local.settings.example.json);
    the defaults need nothing installed: a SQLite file hunter.db and the system resolver.
    """


COMMANDS = (scan, rescan, demo, lead, leads, changes, notify, migrate, serve, apikey, connector)
COMMANDS += (d365, pc, worker, queue, jobs)
COMMANDS += (email,)
for command in COMMANDS:
    main.add_command(command)
