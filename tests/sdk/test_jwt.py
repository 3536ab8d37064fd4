"""The official `openai` Python SDK with an end user's login token (JWT) as
`api_key`: the user registers, stores their own OpenAI key in the vault, and the
SDK's calls run on that key (the mock sees it, never the gateway's).
"""

from __future__ import annotations

import json
import urllib.request
import uuid

import openai
import pytest

USER_PROVIDER_KEY = "sk-sdk-user-own-key-0123456789"


def _post(url: str, body: dict, token: str | None = None) -> dict:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with opener.open(req, timeout=30) as res:
        return json.loads(res.read())


@pytest.fixture(scope="module")
def user_token(gateway_root) -> str:
    email = f"sdk-{uuid.uuid4().hex[:8]}@example.org"
    session = _post(
        f"{gateway_root}/auth/register",
        {"email": email, "password": "sdk password 123"},
    )
    assert session["expires_in"] == 604800
    token = session["token"]
    stored = _post(
        f"{gateway_root}/keys",
        {"vendor": "openai", "label": "sdk", "api_key": USER_PROVIDER_KEY},
        token,
    )
    assert stored["hint"] == "sk-…6789"
    return token


def test_chat_with_a_jwt_runs_on_the_users_vault_key(
    make_openai, user_token, upstream_requests, marker
):
    client = make_openai(user_token)
    reply = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": f"hello {marker}"}],
    )
    assert marker in reply.choices[0].message.content
    sent = [r for r in upstream_requests() if marker in json.dumps(r.get("body"))]
    assert sent, "the call reached the mock"
    assert sent[-1]["headers"]["authorization"] == f"Bearer {USER_PROVIDER_KEY}"


def test_streaming_with_a_jwt(make_openai, user_token, marker):
    client = make_openai(user_token)
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": f"stream {marker}"}],
        stream=True,
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert marker in text


def test_a_bad_jwt_raises_authentication_error(make_openai, user_token):
    client = make_openai(user_token[:-2] + ("AA" if not user_token.endswith("AA") else "BB"))
    with pytest.raises(openai.AuthenticationError) as err:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
    assert err.value.code == "invalid_token"
