"""Development stand-ins (never shipped): HTTPS stand-ins for Microsoft identity, Dataverse and Partner
Center (``python -m devtools.msstandins``) and a helper that starts ``hunter serve`` for tests and benches."""
