"""Run the Microsoft stand-ins as a process (for a demo or a benchmark driver).

``python -m devtools.msstandins [--auto-approve USER] [--referrals N]`` starts them,
prints one JSON line with the URLs, client ids, secret and CA bundle path (the keys of
:meth:`Standins.env`), and serves until SIGINT/SIGTERM. With ``--auto-approve`` every device
code is approved as USER a moment after it is issued, so a device-code sign-in completes
unattended.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from datetime import UTC, datetime, timedelta

from devtools.msstandins import make_referral, start_standins
from shared.integrations.d365.mapping import BUNDLED


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.msstandins", description=__doc__)
    parser.add_argument("--auto-approve", metavar="USER", help="approve every device code as this user")
    parser.add_argument("--referrals", type=int, default=0, metavar="N", help="seed N incoming referrals")
    parser.add_argument("--page-size", type=int, default=100, help="referrals per page (at most 100)")
    args = parser.parse_args(argv)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with start_standins(referral_page_size=args.page_size, d365_mapping=BUNDLED) as ms:
        start = datetime.now(UTC) - timedelta(days=args.referrals)
        for index in range(args.referrals):
            ms.referrals.add_referral(
                make_referral(
                    name=f"Referral {index + 1}",
                    customer_name=f"Customer {index + 1} A.S.",
                    contact_email=f"contact{index + 1}@customer{index + 1}.com.tr",
                    created=start + timedelta(days=index),
                )
            )
        print(json.dumps(ms.env()), flush=True)
        while not stop.wait(0.2):
            if args.auto_approve:
                for code in ms.identity.pending_device_codes():
                    ms.identity.approve_device_code(code, args.auto_approve)
    return 0


if __name__ == "__main__":
    sys.exit(main())
