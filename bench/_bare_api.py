"""The yardstick of bench_api.py: a bare Litestar route returning constant JSON, served the way `numbersearch
serve` serves the API (uvicorn, access log on, collector frozen). Usage: _bare_api.py PORT."""

from __future__ import annotations

import gc
import sys

import uvicorn
from litestar import Litestar, get


@get("/bare", sync_to_thread=False)
def bare() -> dict[str, str]:
    return {"status": "ok"}


def main() -> None:
    app = Litestar(route_handlers=[bare], logging_config=None, openapi_config=None)
    gc.freeze()
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="info", timeout_graceful_shutdown=1.0)


if __name__ == "__main__":
    main()
