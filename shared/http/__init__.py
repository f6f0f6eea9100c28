"""Framework-neutral HTTP: request/response, routing, problems (RFC 7807), auth.

Azure Functions and the local runner both translate their own request objects into
:class:`HttpRequest`, call :func:`shared.http.dispatch.dispatch`, and translate the
:class:`HttpResponse` back, so routes, auth and errors are identical on every host.
"""
