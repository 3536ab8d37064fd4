"""The official `openai` Python SDK against the gateway, in front of the mock upstream.

The SDK is the client most callers use, so it is the judge of wire compatibility:
these tests pass only if it parses every response, stream and error the gateway
sends into the objects and exception classes it documents.

The mock replies `Mock reply to: <last user message>`, streams one chunk per
word, counts a token per word (+3 per prompt message), and obeys `[[mock:...]]`
directives in the prompt (see src/mock_upstream/mod.rs).
"""

from __future__ import annotations

import json
import random
import string

import openai
import pytest

MODEL = "gpt-4o-mini"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}
# The arguments the mock's canned tool call sends (src/mock_upstream/reply.rs).
MOCK_TOOL_ARGUMENTS = {"location": "Paris"}


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def mock_reply(prompt: str) -> str:
    return f"Mock reply to: {prompt}"


def words(text: str) -> int:
    return len(text.split())


# --- Success paths ---------------------------------------------------------


def test_chat_completion_returns_the_upstream_answer_usage_and_request_id(client, marker):
    prompt = f"Say hello to the SDK {marker}"

    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=user(prompt))
    completion = raw.parse()

    assert raw.http_response.status_code == 200
    assert raw.headers.get("x-request-id"), f"no x-request-id in {dict(raw.headers)}"
    assert completion.object == "chat.completion"
    assert completion.model == MODEL
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == mock_reply(prompt)
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == words(prompt) + 3
    assert completion.usage.completion_tokens == words(mock_reply(prompt))
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


def test_streamed_chunks_add_up_to_the_same_answer(client, marker):
    prompt = f"Stream this sentence word by word {marker}"
    whole = client.chat.completions.create(model=MODEL, messages=user(prompt))

    chunks = list(client.chat.completions.create(model=MODEL, messages=user(prompt), stream=True))

    assert len(chunks) >= 5, f"expected one chunk per word, got {len(chunks)}"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert all(c.model == MODEL for c in chunks)
    assert len({c.id for c in chunks}) == 1, "all chunks of one stream share an id"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content == mock_reply(prompt)
    finish_reasons = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finish_reasons[-1] == "stop"
    assert finish_reasons[:-1] == [None] * (len(finish_reasons) - 1)
    # Without stream_options the stream carries no usage.
    assert all(c.usage is None for c in chunks)


def test_stream_with_include_usage_ends_with_a_usage_chunk(client, marker):
    prompt = f"Count my tokens please {marker}"

    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=user(prompt),
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    last = chunks[-1]
    assert last.choices == [], "the usage chunk has no choices, as OpenAI sends it"
    assert last.usage is not None
    assert last.usage.prompt_tokens == words(prompt) + 3
    assert last.usage.completion_tokens == words(mock_reply(prompt))
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert all(c.usage is None for c in chunks[:-1])
    assert any(c.choices and c.choices[0].finish_reason == "stop" for c in chunks[:-1])
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == mock_reply(prompt)


@pytest.mark.parametrize("requested", ["openai/gpt-4o-mini", "tollgate-chat-fast"])
def test_provider_prefixed_models_and_aliases_reach_the_provider_by_its_own_name(
    client, upstream_request_with, marker, requested
):
    prompt = f"Which model am I talking to {marker}"

    completion = client.chat.completions.create(model=requested, messages=user(prompt))

    assert completion.choices[0].message.content == mock_reply(prompt)
    upstream = upstream_request_with(marker)
    assert upstream["path"] == "/v1/chat/completions"
    assert upstream["body"]["model"] == MODEL
    assert upstream["body"]["messages"] == user(prompt)


# --- Errors: each must raise the exception class the SDK documents ---------


def _random_base62(n: int) -> str:
    return "".join(random.choices(string.ascii_letters + string.digits, k=n))


def _same_shape_random(key: str) -> str:
    """`key` with every base62 character after `<prefix>_<env>_<kind>_` replaced."""
    prefix, env, kind, rest = key.split("_", 3)
    shuffled = "".join(_random_base62(1) if ch.isalnum() else ch for ch in rest)
    return f"{prefix}_{env}_{kind}_{shuffled}"


def _last_char_changed(key: str) -> str:
    return key[:-1] + ("A" if key[-1] != "A" else "B")


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda key: "sk-proj-" + _random_base62(48), id="openai-shaped-garbage"),
        pytest.param(_same_shape_random, id="tollgate-shaped-garbage"),
        pytest.param(_last_char_changed, id="real-key-last-char-changed"),
    ],
)
def test_invalid_keys_raise_authentication_error(make_openai, api_key, forge):
    bad_key = forge(api_key)
    assert bad_key != api_key

    with pytest.raises(openai.AuthenticationError) as caught:
        make_openai(bad_key).chat.completions.create(model=MODEL, messages=user("hi"))

    e = caught.value
    assert e.status_code == 401
    assert e.code == "invalid_api_key", e.body
    assert e.type == "authentication_error", e.body
    assert e.response.headers.get("x-request-id")
    assert bad_key not in e.message, "the error must not echo the presented key"


def test_unknown_model_raises_bad_request(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="no-such-model-xyz", messages=user("hi"))

    e = caught.value
    assert e.status_code == 400
    assert e.code == "unknown_model", e.body
    assert e.param == "model", e.body
    assert "no-such-model-xyz" in e.message
    assert e.response.headers.get("x-request-id")


def test_upstream_failure_raises_internal_server_error(client):
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model=MODEL, messages=user("fail please [[mock:status=503]]"))

    e = caught.value
    assert e.status_code == 503
    assert e.code == "upstream_error", e.body
    assert e.type == "upstream_error", e.body
    assert e.response.headers.get("x-request-id")


def test_upstream_drop_mid_stream_raises_while_iterating(client, marker):
    prompt = f"this stream will break off before the end {marker} [[mock:drop_after=3]]"
    stream = client.chat.completions.create(model=MODEL, messages=user(prompt), stream=True)
    received = []

    # The gateway reports the drop as an error event (the SDK raises APIError)
    # or cuts the connection (the SDK wraps the transport error in
    # APIConnectionError, also an APIError). A clean end would not raise.
    with pytest.raises(openai.APIError):
        for chunk in stream:
            received.append(chunk)

    text = "".join(c.choices[0].delta.content or "" for c in received if c.choices)
    assert len(received) <= 3, "the mock sent only 3 events before dropping"
    assert mock_reply(prompt).startswith(text), f"{text!r} is not a prefix of the reply"
    assert text != mock_reply(prompt)
    assert not any(c.choices and c.choices[0].finish_reason for c in received)


# --- Tool calls ------------------------------------------------------------


def test_tool_call_is_parsed_into_tool_calls(client):
    completion = client.chat.completions.create(
        model=MODEL,
        messages=user("What's the weather in Paris? [[mock:tool_call]]"),
        tools=[WEATHER_TOOL],
    )

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 1
    assert calls[0].type == "function"
    assert calls[0].id
    assert calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == MOCK_TOOL_ARGUMENTS


def test_streamed_tool_call_fragments_accumulate_into_valid_json(client):
    stream = client.chat.completions.create(
        model=MODEL,
        messages=user("What's the weather in Paris? [[mock:tool_call]]"),
        tools=[WEATHER_TOOL],
        stream=True,
    )

    calls: dict[int, dict] = {}
    fragments = 0
    finish_reason = None
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        for call in delta.tool_calls or []:
            acc = calls.setdefault(call.index, {"id": None, "name": "", "arguments": ""})
            if call.id:
                acc["id"] = call.id
            if call.function and call.function.name:
                acc["name"] += call.function.name
            if call.function and call.function.arguments:
                acc["arguments"] += call.function.arguments
                fragments += 1
        finish_reason = chunk.choices[0].finish_reason or finish_reason

    assert finish_reason == "tool_calls"
    assert list(calls) == [0]
    assert calls[0]["id"]
    assert calls[0]["name"] == "get_weather"
    assert fragments > 1, "arguments should arrive in several fragments"
    assert json.loads(calls[0]["arguments"]) == MOCK_TOOL_ARGUMENTS


def test_rate_limited_key_raises_rate_limit_error(make_openai, create_key):
    key = create_key(rate_limit={"requests": 1, "period": "hour", "burst": 1})
    client = make_openai(key)
    client.chat.completions.create(model=MODEL, messages=user("first"))
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model=MODEL, messages=user("second"))
    err = caught.value
    assert err.status_code == 429
    assert err.code == "rate_limit_exceeded"
    assert err.body["details"]["limit"] == 1
    assert int(err.response.headers["retry-after"]) >= 1


def test_missing_scope_raises_permission_denied(make_openai, create_key):
    client = make_openai(create_key(scopes=["embeddings"]))
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.chat.completions.create(model=MODEL, messages=user("hi"))
    assert caught.value.status_code == 403
    assert caught.value.code == "insufficient_permissions"


def test_disallowed_model_raises_permission_denied(make_openai, create_key):
    client = make_openai(create_key(allowed_models=["gpt-4o"]))
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.chat.completions.create(model=MODEL, messages=user("hi"))
    assert caught.value.code == "model_not_allowed"
