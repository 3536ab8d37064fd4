"""The official `openai` Python SDK on Gemini models, and on embeddings from both
OpenAI and Gemini: OpenAI's formats in, Gemini's `generateContent` /
`embedContent` upstream, translated both ways by the gateway. Also bring your own
key (BYOK) headers sent through the SDK's `extra_headers`.

The caller must not be able to tell: the SDK parses the same completions, chunks,
tool-call deltas and embeddings it gets from OpenAI. The Gemini mock replies
`Mock reply to: <last user message>`, sends a `[[mock:tool_call]]` call as one
whole `functionCall` part, counts a token per word (+3 per prompt message), and
embeds a text into the same vector as the OpenAI mock does (8 values unless
asked, each exact in float32, a shorter vector a prefix of a longer one); see
src/mock_upstream/mod.rs and src/mock_upstream/embedding.rs.
"""

from __future__ import annotations

import array
import base64
import json
import struct

import openai
import pytest

GEMINI_CHAT = "gemini-2.5-flash"
OPENAI_EMBEDDING = "text-embedding-3-small"
GEMINI_EMBEDDING = "gemini-embedding-001"
EMBEDDING_MODELS = [OPENAI_EMBEDDING, GEMINI_EMBEDDING]
# The mock's vector length when the request names none.
MOCK_DEFAULT_DIMENSIONS = 8

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
# The arguments of the mock's canned tool call (src/mock_upstream/reply.rs).
MOCK_TOOL_ARGUMENTS = {"location": "Paris"}

BYOK_CALLER_KEY = "caller-key-123"


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def mock_reply(prompt: str) -> str:
    return f"Mock reply to: {prompt}"


def words(text: str) -> int:
    return len(text.split())


# --- Embeddings helpers ----------------------------------------------------


def as_float32(x: float) -> float:
    """`x` rounded to the nearest float32, back as a Python float."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def assert_float32_vector(vector, length: int) -> list[float]:
    """A list of `length` floats, each exactly representable in float32, in [-1, 1)."""
    assert isinstance(vector, list), f"expected a list of floats, got {type(vector).__name__}: {vector!r}"
    assert len(vector) == length, f"expected {length} values, got {len(vector)}: {vector}"
    for x in vector:
        assert isinstance(x, float), f"{x!r} in {vector} is not a float"
        assert as_float32(x) == x, f"{x!r} in {vector} is not exact in float32"
        assert -1.0 <= x < 1.0, f"{x!r} in {vector} is outside the mock's [-1, 1)"
    return vector


def assert_same_float32_vector(a: list[float], b: list[float], what: str) -> None:
    """Equal value by value once both are rounded to float32: the mock's values
    are exact in float32, so no gateway path may change them beyond that."""
    assert len(a) == len(b), f"{what}: lengths differ: {a} vs {b}"
    assert [as_float32(x) for x in a] == [as_float32(y) for y in b], f"{what}: {a} != {b}"


def decode_base64_embedding(data: str) -> list[float]:
    """What openai-python does with a base64 embedding: little-endian float32s."""
    raw = base64.b64decode(data, validate=True)
    assert len(raw) % 4 == 0, f"{len(raw)} bytes is not a whole number of float32s"
    values = array.array("f")
    values.frombytes(raw)
    if struct.pack("=f", 1.0) != struct.pack("<f", 1.0):  # big-endian host
        values.byteswap()
    return values.tolist()


def embed(client, model: str, text: str, **kwargs) -> list[float]:
    """The single embedding of `text`, asked for as floats."""
    response = client.embeddings.create(model=model, input=text, encoding_format="float", **kwargs)
    assert len(response.data) == 1, response
    return response.data[0].embedding


# --- Embeddings ------------------------------------------------------------


@pytest.mark.parametrize("model", EMBEDDING_MODELS)
def test_default_embeddings_call_asks_for_base64_and_decodes_to_the_float_values(
    client, model, marker
):
    text = f"embed me by default {marker}"

    raw = client.embeddings.with_raw_response.create(model=model, input=text)
    default = raw.parse()
    floats = client.embeddings.create(model=model, input=text, encoding_format="float")

    # The SDK asked for base64, and the gateway answered in it: the decoding below
    # is the SDK's, not a no-op on a float list the gateway sent regardless.
    sent = json.loads(raw.http_response.request.content)
    assert sent["encoding_format"] == "base64", sent
    wire = raw.http_response.json()
    assert isinstance(wire["data"][0]["embedding"], str), f"expected base64 on the wire: {wire}"

    for response in (default, floats):
        assert response.object == "list"
        assert response.model == model
        assert len(response.data) == 1
        assert response.data[0].object == "embedding"
        assert response.data[0].index == 0
    decoded = assert_float32_vector(default.data[0].embedding, MOCK_DEFAULT_DIMENSIONS)
    as_floats = assert_float32_vector(floats.data[0].embedding, MOCK_DEFAULT_DIMENSIONS)
    assert decoded == as_floats, "the SDK's base64 decoding gives the float answer exactly"


@pytest.mark.parametrize("model", EMBEDDING_MODELS)
def test_explicit_base64_embeddings_decode_to_the_float_values(client, model, marker):
    text = f"embed me as base64 {marker}"

    b64 = client.embeddings.create(model=model, input=text, encoding_format="base64")
    floats = client.embeddings.create(model=model, input=text, encoding_format="float")

    # Asked for explicitly, the SDK hands base64 back untouched.
    data = b64.data[0].embedding
    assert isinstance(data, str), f"expected a base64 string, got {data!r}"
    decoded = assert_float32_vector(decode_base64_embedding(data), MOCK_DEFAULT_DIMENSIONS)
    assert decoded == assert_float32_vector(floats.data[0].embedding, MOCK_DEFAULT_DIMENSIONS)


@pytest.mark.parametrize("encoding_format", ["default", "float"])
@pytest.mark.parametrize("model", EMBEDDING_MODELS)
def test_batch_embeddings_keep_the_input_order(client, model, encoding_format, marker):
    texts = [f"first {marker}", f"second {marker}", f"third {marker}"]
    kwargs = {} if encoding_format == "default" else {"encoding_format": encoding_format}

    response = client.embeddings.create(model=model, input=texts, **kwargs)

    assert response.object == "list"
    assert [d.index for d in response.data] == [0, 1, 2]
    batch = [assert_float32_vector(d.embedding, MOCK_DEFAULT_DIMENSIONS) for d in response.data]
    assert len({tuple(v) for v in batch}) == 3, f"three texts, three different vectors: {batch}"
    # Each position holds the vector of the text at that position, not only its index.
    for i, text in enumerate(texts):
        assert_same_float32_vector(batch[i], embed(client, model, text), f"{model} data[{i}]")


@pytest.mark.parametrize("model", EMBEDDING_MODELS)
def test_dimensions_shorten_the_vector(client, model, marker):
    text = f"shorter please {marker}"

    short = embed(client, model, text, dimensions=4)
    default_short = client.embeddings.create(model=model, input=text, dimensions=4).data[0].embedding

    assert_float32_vector(short, 4)
    assert default_short == short, "the SDK's base64 decoding gives the float answer exactly"
    # The mock's vectors are Matryoshka-like: the short one is the long one's prefix.
    full = embed(client, model, text)
    assert_same_float32_vector(short, full[:4], f"{model}: dimensions=4 vs the first 4 of 8")


def test_dimensions_reach_gemini_as_output_dimensionality(client, upstream_requests, marker):
    text = f"four values from gemini {marker}"

    response = client.embeddings.create(
        model=GEMINI_EMBEDDING, input=text, dimensions=4, encoding_format="float"
    )

    assert_float32_vector(response.data[0].embedding, 4)
    sent = [r for r in upstream_requests() if marker in json.dumps(r["body"])]
    assert len(sent) == 1, sent
    assert sent[0]["path"].endswith(f"/models/{GEMINI_EMBEDDING}:embedContent"), sent[0]
    assert sent[0]["body"]["outputDimensionality"] == 4, sent[0]["body"]


@pytest.mark.parametrize("encoding_format", ["default", "float", "base64"])
def test_the_same_text_gives_the_same_vector_on_openai_and_gemini(client, encoding_format, marker):
    texts = [f"same on both providers {marker}", f"and this one too {marker}"]
    kwargs = {} if encoding_format == "default" else {"encoding_format": encoding_format}

    def vectors(model: str) -> list[list[float]]:
        response = client.embeddings.create(model=model, input=texts, **kwargs)
        assert [d.index for d in response.data] == [0, 1]
        out = [d.embedding for d in response.data]
        if encoding_format == "base64":
            out = [decode_base64_embedding(v) for v in out]
        return [assert_float32_vector(v, MOCK_DEFAULT_DIMENSIONS) for v in out]

    on_openai = vectors(OPENAI_EMBEDDING)
    on_gemini = vectors(GEMINI_EMBEDDING)

    for i in range(len(texts)):
        assert_same_float32_vector(on_openai[i], on_gemini[i], f"text {i}, {encoding_format}")


# --- Chat on Gemini --------------------------------------------------------


def test_chat_completion_on_gemini_is_translated_both_ways(client, upstream_request_with, marker):
    prompt = f"Say hello to Gemini through the OpenAI SDK {marker}"

    completion = client.chat.completions.create(model=GEMINI_CHAT, messages=user(prompt))

    assert completion.object == "chat.completion"
    assert completion.model == GEMINI_CHAT
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == mock_reply(prompt)
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == words(prompt) + 3
    assert completion.usage.completion_tokens == words(mock_reply(prompt))
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )

    upstream = upstream_request_with(marker)
    assert upstream["path"] == f"/v1beta/models/{GEMINI_CHAT}:generateContent"
    contents = upstream["body"]["contents"]
    assert [c["role"] for c in contents] == ["user"]
    assert " ".join(p["text"] for p in contents[0]["parts"]) == prompt


def test_streamed_chunks_on_gemini_add_up_to_the_same_answer(client, marker):
    prompt = f"Stream this sentence word by word {marker}"

    chunks = list(
        client.chat.completions.create(model=GEMINI_CHAT, messages=user(prompt), stream=True)
    )

    assert chunks, "an empty stream"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert all(c.model == GEMINI_CHAT for c in chunks)
    assert len({c.id for c in chunks}) == 1, "all chunks of one stream share an id"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == mock_reply(prompt)
    finish_reasons = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finish_reasons[-1] == "stop"
    assert finish_reasons[:-1] == [None] * (len(finish_reasons) - 1)
    # Without stream_options the stream carries no usage.
    assert all(c.usage is None for c in chunks)


def test_stream_on_gemini_with_include_usage_ends_with_a_usage_chunk(client, marker):
    prompt = f"Count my Gemini tokens please {marker}"

    chunks = list(
        client.chat.completions.create(
            model=GEMINI_CHAT,
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


def test_streamed_tool_call_on_gemini_accumulates_into_valid_json(client):
    stream = client.chat.completions.create(
        model=GEMINI_CHAT,
        messages=user("What's the weather in Paris? [[mock:tool_call]]"),
        tools=[WEATHER_TOOL],
        stream=True,
    )

    calls: dict[int, dict] = {}
    text = ""
    finish_reasons = []
    for chunk in stream:
        assert chunk.model == GEMINI_CHAT
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        text += delta.content or ""
        for call in delta.tool_calls or []:
            acc = calls.setdefault(call.index, {"id": None, "type": None, "name": "", "arguments": ""})
            if call.id:
                acc["id"] = call.id
            if call.type:
                acc["type"] = call.type
            if call.function and call.function.name:
                acc["name"] += call.function.name
            if call.function and call.function.arguments:
                acc["arguments"] += call.function.arguments
        if chunk.choices[0].finish_reason:
            finish_reasons.append(chunk.choices[0].finish_reason)

    assert finish_reasons == ["tool_calls"]
    assert text == ""
    assert list(calls) == [0]
    assert calls[0]["id"]
    assert calls[0]["type"] == "function"
    assert calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["arguments"]) == MOCK_TOOL_ARGUMENTS


# --- Bring your own key ----------------------------------------------------


def test_byok_gemini_chat_goes_upstream_with_the_callers_key(
    client, api_key, upstream_requests, marker
):
    prompt = f"On my own Gemini account {marker}"

    completion = client.chat.completions.create(
        model=GEMINI_CHAT,
        messages=user(prompt),
        extra_headers={"x-byok-provider": "gemini", "x-byok-api-key": BYOK_CALLER_KEY},
    )

    assert completion.choices[0].message.content == mock_reply(prompt)
    last = upstream_requests()[-1]
    assert marker in json.dumps(last["body"]), f"the last upstream request is not this one: {last}"
    assert last["path"] == f"/v1beta/models/{GEMINI_CHAT}:generateContent"
    assert last["headers"]["x-goog-api-key"] == BYOK_CALLER_KEY
    assert api_key not in json.dumps(last), "the gateway key must not go upstream"
    assert "key=" not in (last.get("query") or ""), "the key never goes in the URL"


def test_byok_on_legacy_completions_raises_bad_request_byok_not_supported(
    client, upstream_requests
):
    before = upstream_requests()

    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(
            model="gpt-3.5-turbo-instruct",
            prompt="x",
            extra_headers={"x-byok-provider": "openai", "x-byok-api-key": "k"},
        )

    e = caught.value
    assert e.status_code == 400
    assert e.code == "byok_not_supported", e.body
    assert e.param == "x-byok-provider", e.body
    assert e.response.headers.get("x-request-id")
    assert upstream_requests() == before, "a refused BYOK call must not reach the provider"
