"""The landing page a member opens to get a promo code (unsigned, on the shared pipeline)."""

from __future__ import annotations

import json
import re
from typing import Any

from mocksrv.call import Call
from mocksrv.http import Response
from mocksrv.services.base import ApiService, Route
from mocksrv.services.promotions import exceptions as exc
from mocksrv.services.promotions.config import ENVIRONMENTS
from mocksrv.services.promotions.models import PromotionsStore

LANDING = re.compile(r"^/promotions/(?P<promotion>[^/]+)/landing$")
_MEMBER = re.compile(r"^[\x21-\x7e]{1,128}$")


class LandingService(ApiService):
    """`GET /promotions/{id}/landing?member=...`: the member's code (claimed once, then the
    same), as JSON or a redirect to the promotion's URL."""

    api = "promotions"
    scope = None
    wire_error = exc.LandingError
    reads_body = False

    def __init__(self, store: PromotionsStore) -> None:
        self.store = store

    def claims(self, call: Call) -> bool:
        return (
            call.method == "GET"
            and LANDING.match(call.path) is not None
            and not (call.headers.get("authorization") or "X-Amz-Signature" in call.query_string)
        )

    def route(self, call: Call) -> Route:
        match = LANDING.match(call.path)
        return Route("Landing", {"promotion": match["promotion"] if match else ""})

    def authenticate(self, call: Call, route: Route) -> None:
        return None  # the page is public: a member follows a link

    def parse(self, call: Call, route: Route, ident: Any) -> tuple[Any, str, str, bool]:
        promotion_id = route.params["promotion"]
        query = call.query()
        member = query.get("member", "")
        env = query.get("environment", "devo")
        call.fields.update({"promotionId": promotion_id, "member": member, "environment": env})
        if not _MEMBER.match(member):
            raise exc.BadRequest("Query parameter 'member' is required: 1-128 printable characters")
        if env not in ENVIRONMENTS:
            raise exc.BadRequest(
                f"Query parameter 'environment' must be devo or prod, not {env[:20]!r}"
            )
        promo = self.store.config.promotions.get(promotion_id)
        if promo is None:
            raise exc.PromotionNotFound(f"Promotion {promotion_id[:128]!r} is not in the scenario")
        return promo, env, member, query.get("redirect") in ("1", "true")

    def operate(self, call: Call, route: Route, ident: Any, request: Any) -> Response:
        promo, env, member, redirect = request
        code, fresh = self.store.claim(env, promo.id, member)
        if code is None:
            raise exc.NoCodeAvailable(f"Promotion {promo.id} has no available codes in {env}")
        call.outcome = "OK"
        url = promo.url(code, member)
        if redirect:
            return Response(status=302, headers={"Location": url})
        body = {"promotionId": promo.id, "environment": env, "member": member, "code": code,
                "url": url, "newlyAssigned": fresh}  # fmt: skip
        return Response(json.dumps(body), status=200, content_type="application/json")

    def field_too_large(self, message: str, name: str) -> Exception:
        return exc.BadRequest(message)

    def render_error(self, call: Call, err: Any, route: Route | None) -> Response:
        body = json.dumps({"error": {"code": err.error_code, "message": err.message}})
        return Response(body, status=err.status, content_type="application/json")

    def render_named_error(self, call: Call, name: str, route: Route | None) -> Response:
        """Landing errors are free names (the real page has no published error set)."""
        body = json.dumps({"error": {"code": name, "message": f"Injected fault: {name}"}})
        return Response(body, status=503, content_type="application/json")
