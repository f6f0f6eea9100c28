"""``hunter serve``: the functions-framework server (gunicorn, threads) on one port."""

from __future__ import annotations

from pathlib import Path


def create_app():
    import functions_framework

    return functions_framework.create_app(
        target="http_entry", source=str(Path(__file__).with_name("entry.py")), signature_type="http"
    )


def serve(host: str, port: int, *, threads: int = 8, workers: int = 1) -> None:
    from functions_framework._http import create_server

    create_server(create_app(), debug=False, threads=threads, workers=workers).run(host, port)
