"""The application with an outer layer of middleware that wraps Starlette's own error handler.

What must hold for every answer, a 500 made by the error handler included, runs there: the
client's address behind trusted proxies, the request ids, the access log, the security headers
and the Host check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp


class EdgeApp(Starlette):
    """Starlette, with `edge` middleware (outermost first) around its whole stack."""

    def __init__(self, *args: Any, edge: Sequence[Middleware] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.edge = list(edge)

    def build_middleware_stack(self) -> ASGIApp:
        app = super().build_middleware_stack()
        for cls, args, kwargs in reversed(self.edge):
            app = cls(app, *args, **kwargs)
        return app
