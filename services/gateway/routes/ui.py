"""The browser pages: the console (/ui/) and the live status page of a run, static HTML and ES modules
over the same JSON API as every other client."""

from __future__ import annotations

import uuid
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

UI_DIR = Path(__file__).resolve().parents[1] / "ui"

# Only this origin's files run; the token in the URL is not sent on as a Referer.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

router = APIRouter(prefix="/ui", tags=["ui"], include_in_schema=False)


@router.get("/runs/{run_id}")
async def run_page(run_id: uuid.UUID) -> FileResponse:
    """The page; it reads the view token from its own query string (`?token=`)."""
    del run_id  # the page's script reads it from the path
    return FileResponse(UI_DIR / "run.html", media_type="text/html", headers=SECURITY_HEADERS)


@router.get("/")
async def console_page() -> FileResponse:
    """The console: sign-in, connections, runs, output templates (docs/console.md)."""
    return FileResponse(UI_DIR / "console.html", media_type="text/html", headers=SECURITY_HEADERS)


def install_ui(app: FastAPI) -> None:
    """The page's route and its static script and stylesheet."""
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=UI_DIR / "static"), name="ui-static")
