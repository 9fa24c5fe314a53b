"""The API's docs page, offline: Swagger UI served from an installed package, and `/` pointing to it."""

from __future__ import annotations

from litestar import get
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

DOCS_PATH = "/schema"
ASSETS_PATH = "/schema/assets"


def swagger_assets() -> str:
    """The folder of Swagger UI 5's own files (shipped by the swagger-ui-py package), so /schema needs no CDN."""
    from importlib import resources

    return str(resources.files("swagger_ui") / "static")


def swagger_plugin() -> SwaggerRenderPlugin:
    return SwaggerRenderPlugin(
        path=["/", "/swagger"],
        js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        css_url=f"{ASSETS_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
        # Litestar's default favicon is on a CDN too.
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>",
    )


@get("/", include_in_schema=False)
async def root() -> Redirect:
    """`/` is the API's front door: its interactive docs."""
    return Redirect(path=DOCS_PATH)


def docs_routes() -> list[ControllerRouterHandler]:
    assets = create_static_files_router(path=ASSETS_PATH, directories=[swagger_assets()], include_in_schema=False)
    return [root, assets]
