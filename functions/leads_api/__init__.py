"""HTTP: leads, lead detail, sales summary, exports, dashboard, the key's scopes, API key administration,
the web app, OpenAPI, health."""

from shared.hosts.azure import blueprint

bp = blueprint("leads_api")  # its triggers are listed in shared/triggers/registry.py (FOLDERS)
