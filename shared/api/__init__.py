"""HTTP handlers: ``handler(request, runtime) -> HttpResponse``, one module per area."""
