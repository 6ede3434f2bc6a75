"""The read-only registry dashboard: FastAPI, Jinja2 templates and server-rendered SVG charts.

``alphaplus ui`` serves it; ``alphaplus.ui.links`` builds its stable URLs without importing the web
stack, so the CLI can print them.
"""
