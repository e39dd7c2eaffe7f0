"""The console's web application (Flask): two pages and the JSON they poll.

- ``GET /``: the rollouts, newest first (``?function=F&alias=A`` filters);
- ``GET /rollouts/<id>``: one rollout: the state machine with its states lit, the
  weight over time with its marks, its checks, its cause, and the verbs as buttons;
- ``GET /api/rollouts``, ``/api/rollouts/<id>``, ``/api/graph``: what they show;
- ``POST /api/rollouts/<id>/<verb>`` (``{"reason": "...", "full": false}``): pause,
  resume, promote or abort, as the caller, only when actions are allowed.

It serves 127.0.0.1 only, and it can repoint production aliases when actions are
allowed, so a request must name this server as its ``Host`` (no DNS rebinding),
and a verb must carry the page's token in ``X-Rollouts-Token`` (a page of another
origin can neither read the token nor send that header without a CORS answer,
which this server never gives).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, abort, jsonify, render_template, request

from rollouts import clock
from rollouts.errors import AwsError, NotFoundError, ValidationError
from rollouts.service import RolloutEndedError, VerbRefusedError
from rollouts_cli.console.source import VERBS, Source, Verb

# The longest reason a button sends (the record bounds it again).
MAX_REASON = 1000


@dataclass
class Settings:
    """How one console serves: what it reads, whether its buttons act, how often pages poll."""

    source: Source
    allow_actions: bool
    poll_ms: int
    where: str
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    # host:port values a request may name; set once the server knows its port.
    hosts: frozenset[str] = frozenset()


def _refusal(status: int, error: str, message: str) -> tuple[Response, int]:
    return jsonify({"error": error, "message": message}), status


def create_app(settings: Settings) -> Flask:
    """The console's Flask application over ``settings``."""
    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    app.json.sort_keys = False  # type: ignore[attr-defined]

    @app.before_request
    def named_host() -> None:
        if settings.hosts and request.host not in settings.hosts:
            abort(421, description=f"this console answers only {', '.join(sorted(settings.hosts))}")

    @app.after_request
    def headers(response: Response) -> Response:
        # Everything is served from here: no other origin may be loaded, framed or posted to.
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    def page_context(**extra: Any) -> dict[str, Any]:
        return {
            "token": settings.token,
            "allow_actions": settings.allow_actions,
            "poll_ms": settings.poll_ms,
            "where": settings.where,
            "stack": settings.source.plane_name,
            **extra,
        }

    @app.get("/")
    def list_page() -> str:
        return render_template(
            "list.html",
            **page_context(
                function=request.args.get("function", ""), alias=request.args.get("alias", "")
            ),
        )

    @app.get("/rollouts/<rollout_id>")
    def rollout_page(rollout_id: str) -> str:
        return render_template("rollout.html", **page_context(rollout_id=rollout_id))

    @app.get("/api/rollouts")
    def rollouts() -> Any:
        function_name = request.args.get("function") or None
        alias = request.args.get("alias") or None
        return jsonify({"rollouts": settings.source.rows(function_name, alias)})

    @app.get("/api/graph")
    def graph() -> Any:
        return jsonify(settings.source.graph())

    @app.get("/api/rollouts/<rollout_id>")
    def rollout(rollout_id: str) -> Any:
        try:
            return jsonify(settings.source.rollout(rollout_id))
        except NotFoundError as error:
            return _refusal(404, "NotFound", str(error))

    @app.post("/api/rollouts/<rollout_id>/<verb>")
    def ask(rollout_id: str, verb: str) -> Any:
        if not settings.allow_actions:
            return _refusal(
                403,
                "ActionsNotAllowed",
                "this console only shows rollouts: start it with --allow-actions to act on them",
            )
        sent = request.headers.get("X-Rollouts-Token", "")
        if not hmac.compare_digest(sent.encode(), settings.token.encode()):
            return _refusal(403, "BadToken", "the request does not carry this console's token")
        if verb not in VERBS:
            return _refusal(404, "NoSuchVerb", f"no verb {verb!r}: one of {', '.join(VERBS)}")
        body = request.get_json(silent=True)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            return _refusal(400, "ValidationError", "body: must be a JSON object")
        reason = body.get("reason")
        if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON):
            return _refusal(
                400, "ValidationError", f"reason: must be text of at most {MAX_REASON} characters"
            )
        full = body.get("full", False)
        if not isinstance(full, bool):
            return _refusal(400, "ValidationError", "full: must be true or false")
        try:
            answer = settings.source.ask(
                rollout_id, Verb(verb, (reason or "").strip() or None, full), clock.now()
            )
        except NotFoundError as error:
            return _refusal(404, "NotFound", str(error))
        except RolloutEndedError as error:
            return _refusal(409, "RolloutEnded", str(error))
        except VerbRefusedError as error:
            return _refusal(409, "VerbRefused", str(error))
        except ValidationError as error:
            return _refusal(400, "ValidationError", str(error))
        except AwsError as error:
            return _refusal(502, "AwsError", str(error))
        return jsonify(answer), 202

    return app
