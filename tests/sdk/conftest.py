"""Fixtures for running the official provider SDKs against a live gateway.

The gateway and its mock upstream are started by the Rust test
`tests/api/sdk.rs`, which passes them in through the environment:

- TOLLGATE_BASE_URL: the gateway's OpenAI base URL, e.g. http://127.0.0.1:PORT/v1
- TOLLGATE_API_KEY:  a live key issued for this run
- TOLLGATE_MOCK_URL: the mock upstream's root, e.g. http://127.0.0.1:PORT
- TOLLGATE_ADMIN_KEY: a management key, to create keys with a given policy

Run them with `cargo nextest run --test api sdk` rather than pytest directly.
"""

from __future__ import annotations

import json
import os
import urllib.request
import uuid

import anthropic
import openai
import pytest

# A test that hangs is a failure, not a stuck CI job.
REQUEST_TIMEOUT_SECS = 30


def _required_env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        pytest.exit(
            f"{name} is not set: these tests need a running gateway; "
            "run them with `cargo nextest run --test api sdk`, which starts one",
            returncode=2,
        )
    return value


@pytest.fixture(scope="session")
def base_url() -> str:
    return _required_env("TOLLGATE_BASE_URL")


@pytest.fixture(scope="session")
def api_key() -> str:
    return _required_env("TOLLGATE_API_KEY")


@pytest.fixture(scope="session")
def mock_url() -> str:
    return _required_env("TOLLGATE_MOCK_URL").rstrip("/")


@pytest.fixture(scope="session")
def make_openai(base_url):
    """Builds an OpenAI client for the gateway with the given key.

    `max_retries=0`: the SDK retries 5xx and connection errors by default,
    which would make error tests slow and hide what the gateway answered first.
    """

    def make(key: str) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=base_url,
            api_key=key,
            max_retries=0,
            timeout=REQUEST_TIMEOUT_SECS,
        )

    return make


@pytest.fixture(scope="session")
def client(make_openai, api_key) -> openai.OpenAI:
    return make_openai(api_key)


@pytest.fixture(scope="session")
def gateway_root(base_url) -> str:
    """The gateway's root URL (TOLLGATE_BASE_URL without `/v1`): the Anthropic SDK
    appends `/v1/messages` itself."""
    return base_url.rstrip("/").removesuffix("/v1")


@pytest.fixture(scope="session")
def make_anthropic(gateway_root):
    """Builds an Anthropic client for the gateway with the given key.

    `max_retries=0` for the same reason as `make_openai`. An explicit `api_key`
    also keeps the SDK from reading credentials from the environment.
    """

    def make(key: str) -> anthropic.Anthropic:
        return anthropic.Anthropic(
            base_url=gateway_root,
            api_key=key,
            max_retries=0,
            timeout=REQUEST_TIMEOUT_SECS,
        )

    return make


@pytest.fixture(scope="session")
def anthropic_client(make_anthropic, api_key) -> anthropic.Anthropic:
    return make_anthropic(api_key)


@pytest.fixture
def marker() -> str:
    """A word unique to one test, to put in a prompt and find its request upstream."""
    return f"marker-{uuid.uuid4().hex}"


@pytest.fixture(scope="session")
def upstream_requests(mock_url):
    """Returns the provider requests the mock has recorded, oldest first.

    Plain urllib with proxies disabled: the mock is on loopback and must be
    reached directly whatever HTTP(S)_PROXY says.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def fetch() -> list[dict]:
        with opener.open(f"{mock_url}/_mock/requests", timeout=REQUEST_TIMEOUT_SECS) as res:
            return json.load(res)

    return fetch


@pytest.fixture(scope="session")
def upstream_request_with(upstream_requests):
    """The one upstream request whose body mentions `text` (e.g. a marker)."""

    def find(text: str) -> dict:
        matches = [r for r in upstream_requests() if text in json.dumps(r["body"])]
        assert len(matches) == 1, f"expected one upstream request containing {text!r}, got {matches}"
        return matches[0]

    return find


@pytest.fixture(scope="session")
def admin_key() -> str:
    return _required_env("TOLLGATE_ADMIN_KEY")


@pytest.fixture(scope="session")
def create_key(base_url, admin_key):
    """Creates a key through the management API with the given policy; returns it."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    root = base_url.rstrip("/").removesuffix("/v1")

    def create(**policy) -> str:
        body = json.dumps({"name": "sdk-test", **policy}).encode()
        req = urllib.request.Request(
            f"{root}/admin/keys",
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {admin_key}", "Content-Type": "application/json"},
        )
        with opener.open(req, timeout=REQUEST_TIMEOUT_SECS) as res:
            assert res.status == 201, res.status
            return json.load(res)["key"]

    return create
