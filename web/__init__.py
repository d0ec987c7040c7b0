"""The web layer: blueprints (auth, analyze, dashboard, api, identity, species, about), the Flask-Admin back office,
forms, the SVG chart geometry, and the one mapping from domain errors to HTTP (errors.py)."""
