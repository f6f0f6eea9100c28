"""HTTP: leads, lead detail, sales summary, exports, dashboard, OpenAPI documents, health."""

from shared.http.azure import blueprint

bp = blueprint(
    [
        "list_leads",
        "export_leads",
        "get_lead",
        "get_sales_summary",
        "get_dashboard",
        "get_openapi",
        "get_swagger",
        "health_live",
        "health_ready",
        "health_startup",
        "health_metrics",
    ]
)
