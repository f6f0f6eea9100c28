"""HTTP: leads, lead detail, sales summary, exports, dashboard, the key's scopes, API key administration,
the web app, OpenAPI, health."""

from shared.triggers.azure import blueprint

bp = blueprint(
    [
        "list_leads",
        "export_leads",
        "get_lead",
        "get_sales_summary",
        "get_dashboard",
        "get_me",
        "list_api_keys",
        "create_api_key",
        "revoke_api_key",
        "web_app",
        "get_openapi",
        "get_swagger",
        "health_live",
        "health_ready",
        "health_startup",
        "health_metrics",
    ]
)
