"""Vendored front-end assets (``console/static/vendor``, see its README) and the ``/docs`` page
that uses them: nothing a page loads comes from another origin, so the console and the API docs
work on a machine with no internet access."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse

VENDOR = "/static/vendor"
HTMX = f"{VENDOR}/htmx-2.0.11.min.js"
SWAGGER_JS = f"{VENDOR}/swagger-ui-bundle-5.35.0.js"
SWAGGER_CSS = f"{VENDOR}/swagger-ui-5.35.0.css"
SWAGGER_FAVICON = f"{VENDOR}/swagger-ui-favicon-32x32.png"
STYLESHEET = "/static/console.css"
FAVICON = "/static/favicon.svg"


def install_docs(app: FastAPI) -> None:
    """``/docs`` over the vendored Swagger UI (create the app with ``docs_url=None``); no online
    validator badge, which would call validator.swagger.io."""
    title = f"{app.title} API"
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> RedirectResponse:
        """Browsers ask for it on every origin; without it each page logs a 404."""
        return RedirectResponse(FAVICON, status_code=308)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url, title=title, swagger_js_url=SWAGGER_JS,
            swagger_css_url=SWAGGER_CSS, swagger_favicon_url=SWAGGER_FAVICON,
            swagger_ui_parameters={"validatorUrl": None})
