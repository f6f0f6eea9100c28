"""HTTP handlers: ``handler(request, context) -> HttpResponse``, one module per area."""
