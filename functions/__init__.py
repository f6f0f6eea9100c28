"""Azure Functions trigger glue. Each folder only turns a trigger into a call of ``shared``."""
