"""functions-framework target: one catch-all HTTP function that hands every request to the
same dispatcher Azure uses. Loaded by path by functions-framework (see ``shared.local.server``)."""

import flask

from shared.http.dispatch import dispatch
from shared.http.types import HttpRequest, ProblemError
from shared.runtime import get_runtime

ROUTE_PREFIX = "/api"
WEB_APP = ROUTE_PREFIX + "/ui/"


def http_entry(request: flask.Request) -> flask.Response:
    path = request.path
    if path == "/":  # the web app lives below the API prefix, as on Azure
        return flask.redirect(WEB_APP, code=302)
    if path != ROUTE_PREFIX and not path.startswith(ROUTE_PREFIX + "/"):
        response = ProblemError(404, "Not found", f"the API lives under {ROUTE_PREFIX}/").response(path)
    else:
        response = dispatch(
            HttpRequest(
                method=request.method,
                path=path[len(ROUTE_PREFIX) :] or "/",
                query=request.args.to_dict(flat=False),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=request.get_data(cache=False),
                client=request.remote_addr,
            ),
            get_runtime(),
        )
    return flask.Response(response.body, status=response.status, headers=response.headers)
