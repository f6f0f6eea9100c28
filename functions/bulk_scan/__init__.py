"""HTTP: submit bulk scans, follow them, administer the queues. QUEUE: scan one batch of a job."""

from shared.triggers.azure import add_queue_functions, blueprint

bp = add_queue_functions(
    blueprint(
        [
            "submit_scan_job",
            "preview_scan_job",
            "list_scan_jobs",
            "get_scan_job",
            "get_scan_job_results",
            "list_queues",
            "list_poison_messages",
            "redrive_queue",
        ]
    ),
    ["bulk_scan_batch"],
)
