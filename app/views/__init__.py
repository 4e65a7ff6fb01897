"""Blueprints, one per area. Views parse the request, call a service and render."""
