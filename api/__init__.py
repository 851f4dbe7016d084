"""The REST API for broker systems (FastAPI, its own process): `python -m core api`, or beside the app in `serve`."""
