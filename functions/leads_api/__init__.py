"""HTTP: leads, lead detail, sales summary, exports, dashboard, the key's scopes, the web app, OpenAPI, health."""

from shared.http.azure import blueprint

bp = blueprint(
    [
        "list_leads",
        "export_leads",
        "get_lead",
        "get_sales_summary",
        "get_dashboard",
        "get_me",
        "web_app",
        "get_openapi",
        "get_swagger",
        "health_live",
        "health_ready",
        "health_startup",
        "health_metrics",
    ]
)
