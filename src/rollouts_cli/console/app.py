"""The console's web application (Flask): two pages and the JSON they poll.

- ``GET /``: the rollouts, newest first (``?function=F&alias=A`` filters);
- ``GET /rollouts/<id>``: one rollout: the state machine with its states lit, the
  weight over time with its marks, its checks, its cause, and the verbs as buttons;
- ``GET /api/rollouts``, ``/api/rollouts/<id>``, ``/api/graph``: what they show;
- ``POST /api/rollouts/<id>/<verb>`` (``{"reason": "...", "full": false}``): pause,
  resume, promote or abort, as the caller, only when actions are allowed.

It serves 127.0.0.1 only, reads with the caller's credentials, and can repoint
production aliases when actions are allowed, so:

- every request must carry the console's key: the URL it prints holds it once
  (``/?key=...``), which sets it as an HttpOnly, SameSite=Strict cookie and leads
  on to the same page without it (as Jupyter does). Another user or process on
  the machine that finds the port has no key;
- a request must name this server as its ``Host`` (no DNS rebinding);
- a verb must carry the page's token in ``X-Rollouts-Token`` and a JSON body (a
  page of another origin can neither read the token nor send that header or
  that content type without a CORS answer, which this server never gives).
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from botocore.exceptions import BotoCoreError, ClientError
from flask import Flask, Response, abort, jsonify, redirect, render_template, request
from werkzeug.exceptions import HTTPException

from rollouts import clock
from rollouts.errors import AwsError, NotFoundError, ValidationError
from rollouts.service import RolloutEndedError, VerbRefusedError
from rollouts_cli.console.source import LIST_LIMIT, VERBS, Source, Verb

# The longest reason a button sends (the record bounds it again).
MAX_REASON = 1000
KEY_COOKIE = "rollouts-console-key"
# The fields each verb's body may hold.
FIELDS = {
    "pause": {"reason"},
    "resume": {"reason"},
    "abort": {"reason"},
    "promote": {"reason", "full"},
}


@dataclass
class Settings:
    """How one console serves: what it reads, whether its buttons act, how often pages poll."""

    source: Source
    allow_actions: bool
    poll_ms: int
    where: str
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    # host:port values a request may name; set once the server knows its port.
    hosts: frozenset[str] = frozenset()


def _refusal(status: int, error: str, message: str) -> tuple[Response, int]:
    return jsonify({"error": error, "message": message}), status


def create_app(settings: Settings) -> Flask:
    """The console's Flask application over ``settings``."""
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]

    def same(given: str | None, expected: str) -> bool:
        return hmac.compare_digest((given or "").encode(), expected.encode())

    @app.before_request
    def named_host_with_the_key() -> Any:
        if settings.hosts and request.host not in settings.hosts:
            abort(421, description=f"this console answers only {', '.join(sorted(settings.hosts))}")
        if "key" in request.args:
            if not same(request.args.get("key"), settings.key):
                abort(401, description="that is not this console's key")
            # The key leaves the address bar (and the history) at once: it lives in the cookie.
            query = urlencode([(k, v) for k, v in request.args.items(multi=True) if k != "key"])
            answer = redirect(request.path + (f"?{query}" if query else ""), code=303)
            answer.set_cookie(KEY_COOKIE, settings.key, httponly=True, samesite="Strict", path="/")
            return answer
        if not same(request.cookies.get(KEY_COOKIE), settings.key):
            abort(401, description="open the URL the console printed (it holds its key)")
        return None

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        status = error.code or 500
        if request.path.startswith("/api/"):
            return _refusal(status, error.name.replace(" ", ""), str(error.description))
        return Response(
            f"{status} {error.name}: {error.description}\n", status, mimetype="text/plain"
        )

    @app.errorhandler(AwsError)
    def aws_error(error: AwsError) -> Any:
        return _refusal(502, str(getattr(error, "code", None) or "AwsError"), str(error))

    @app.errorhandler(ClientError)
    def client_error(error: ClientError) -> Any:
        code = str(error.response.get("Error", {}).get("Code", "ClientError"))
        return _refusal(502, code, str(error))

    @app.errorhandler(BotoCoreError)
    def botocore_error(error: BotoCoreError) -> Any:
        return _refusal(502, type(error).__name__, str(error))

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
        return jsonify(
            {"rollouts": settings.source.rows(function_name, alias), "newest": LIST_LIMIT}
        )

    @app.get("/api/graph")
    def graph() -> Any:
        return jsonify(settings.source.graph())

    @app.get("/api/rollouts/<rollout_id>/graph")
    def rollout_graph(rollout_id: str) -> Any:
        return jsonify(settings.source.graph(rollout_id))

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
        if not same(request.headers.get("X-Rollouts-Token"), settings.token):
            return _refusal(403, "BadToken", "the request does not carry this console's token")
        if verb not in VERBS:
            return _refusal(404, "NoSuchVerb", f"no verb {verb!r}: one of {', '.join(VERBS)}")
        body: Any = {}
        if request.get_data():
            if request.mimetype != "application/json":
                return _refusal(415, "ValidationError", "body: must be sent as application/json")
            try:
                body = json.loads(request.get_data())
            except ValueError:
                return _refusal(400, "ValidationError", "body: is not JSON")
        if not isinstance(body, dict):
            return _refusal(400, "ValidationError", "body: must be a JSON object")
        unknown = sorted(set(body) - FIELDS[verb])
        if unknown:
            allowed = " and ".join(sorted(FIELDS[verb]))
            return _refusal(
                400, "ValidationError", f"{unknown[0]}: {verb} takes no such field (only {allowed})"
            )
        reason = body.get("reason")
        if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON):
            return _refusal(
                400, "ValidationError", f"reason: must be text of at most {MAX_REASON} characters"
            )
        full = body.get("full")
        if full is not None and not isinstance(full, bool):
            return _refusal(400, "ValidationError", "full: must be true or false")
        try:
            answer = settings.source.ask(
                rollout_id, Verb(verb, (reason or "").strip() or None, bool(full)), clock.now()
            )
        except NotFoundError as error:
            return _refusal(404, "NotFound", str(error))
        except RolloutEndedError as error:
            return _refusal(409, "RolloutEnded", str(error))
        except VerbRefusedError as error:
            return _refusal(409, "VerbRefused", str(error))
        except ValidationError as error:
            return _refusal(400, "ValidationError", str(error))
        return jsonify(answer), 202

    return app
