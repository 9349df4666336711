"""RQ worker entry point and job bodies. Jobs take ids, open their own app context."""
