"""HTTP: queue leads for Dynamics 365 and retry failures. QUEUE: push one lead (upsert by domain)."""

from shared.triggers.azure import add_queue_functions, blueprint

bp = add_queue_functions(
    blueprint(["push_lead_to_d365", "push_leads_to_d365", "retry_d365_pushes"]),
    ["d365_push"],
)
