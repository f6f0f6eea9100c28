"""Azure Functions entry point (Python v2 programming model): one blueprint per function folder."""

import azure.functions as func

from functions.bulk_scan import bp as bulk_scan
from functions.d365_push_queue import bp as d365_push_queue
from functions.leads_api import bp as leads_api
from functions.notifications import bp as notifications
from functions.pc_sync_timer import bp as pc_sync_timer
from functions.rescan_timer import bp as rescan_timer
from functions.scan import bp as scan

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(scan)
app.register_functions(leads_api)
app.register_functions(bulk_scan)
app.register_functions(d365_push_queue)
app.register_functions(pc_sync_timer)
app.register_functions(rescan_timer)
app.register_functions(notifications)
