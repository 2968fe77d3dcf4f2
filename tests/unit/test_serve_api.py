"""The dashboard client against a real HTTP server on 127.0.0.1 that checks Ray's token the way Ray does."""

from __future__ import annotations

import json

import pytest

from helpers.serve_api import ServeAPI, ServeAPIError

from ..http_stub import serving


@pytest.fixture
def dashboard():
    seen = []

    def answer(request):
        sent = request.headers.get("Authorization")
        seen.append((request.command, request.path, sent))
        if sent != "Bearer right":
            return (401 if not sent else 403), b"Unauthorized", "text/plain"
        return 200, json.dumps({"applications": {}}).encode(), "application/json"

    with serving(answer) as url:
        yield url, seen


def test_every_call_carries_the_token(dashboard):
    url, seen = dashboard
    api = ServeAPI(url, token=lambda: "right")
    assert api.details() == {"applications": {}}
    api.put_config({"applications": []})
    api.delete_all()
    assert api.reachable()
    assert {auth for _, _, auth in seen} == {"Bearer right"}
    assert [m for m, _, _ in seen] == ["GET", "PUT", "DELETE", "GET"]


@pytest.mark.parametrize("token", [None, "wrong"])
def test_missing_or_wrong_token_is_explained(dashboard, token, monkeypatch):
    monkeypatch.setattr("helpers.serve_api.RETRY_AFTER_401_S", 0.0)
    url, _ = dashboard
    with pytest.raises(ServeAPIError, match="token authentication") as info:
        ServeAPI(url, token=lambda: token).details()
    assert ("401" if token is None else "403") in str(info.value)
    assert not ServeAPI(url, token=lambda: token).reachable()


def test_a_token_that_changed_under_us_is_read_again_once_on_a_new_connection(dashboard, monkeypatch):
    """At a cluster upgrade's promotion the token read for the active cluster and the head a kept-alive
    connection reaches can briefly disagree: one retry, on a new connection, with the token read again."""
    import helpers.serve_api as serve_api

    monkeypatch.setattr(serve_api, "RETRY_AFTER_401_S", 0.0)
    url, seen = dashboard
    tokens = iter(["wrong", "right"])  # the old cluster's token, then the promoted cluster's
    assert ServeAPI(url, token=lambda: next(tokens)).details() == {"applications": {}}
    assert [auth for _, _, auth in seen] == ["Bearer wrong", "Bearer right"]
    seen.clear()
    with pytest.raises(ServeAPIError, match="403"):  # still wrong after the retry: explained, not looped
        ServeAPI(url, token=lambda: "wrong").details()
    assert len(seen) == 2


@pytest.fixture
def dropping_dashboard():
    """Answers on keep-alive; the second request on any connection gets no answer (the pod behind it gone)."""
    connections = []

    def answer(request):
        if request.connection in connections:
            return None
        connections.append(request.connection)
        return 200, json.dumps({"applications": {}}).encode(), "application/json"

    with serving(answer) as url:
        yield url, connections


def test_a_read_on_a_connection_to_a_gone_pod_is_asked_again_on_a_new_one(dropping_dashboard):
    url, connections = dropping_dashboard
    api = ServeAPI(url)
    assert api.details() == {"applications": {}}
    assert api.details() == {"applications": {}}  # the kept-alive connection dropped it: once more, anew
    assert len(connections) == 2


def test_a_write_is_not_sent_twice(dropping_dashboard):
    url, connections = dropping_dashboard
    api = ServeAPI(url)
    api.put_config({"applications": []})
    with pytest.raises(ServeAPIError, match="cannot reach the Ray dashboard") as info:
        api.put_config({"applications": []})  # a PUT may have been applied: the caller decides
    assert info.value.transient and len(connections) == 1
