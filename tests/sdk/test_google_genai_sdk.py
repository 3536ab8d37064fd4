"""The official `google-genai` Python SDK against the gateway's Gemini native routes.

`http_options.base_url` is the gateway's root and the gateway key is `api_key`
(the SDK sends it in `x-goog-api-key`). `gemini-2.5-flash` is passed through to
the mock's Gemini API; `gpt-4o-mini` is translated to the mock's OpenAI API and
back, streams included. The mock replies `Mock reply to: <last user text>`.
"""

from __future__ import annotations

import pytest
from google import genai
from google.genai import types

GEMINI = "gemini-2.5-flash"
GPT = "gpt-4o-mini"
MODELS = [pytest.param(GEMINI, id="native-gemini"), pytest.param(GPT, id="translated-gpt")]
UPSTREAM_PATH = {
    GEMINI: f"/v1beta/models/{GEMINI}:generateContent",
    GPT: "/v1/chat/completions",
}
EMBED_MODELS = [
    # The SDK calls batchEmbedContents for embed_content on the Gemini API.
    pytest.param("gemini-embedding-001", "/v1beta/models/gemini-embedding-001:batchEmbedContents", id="native-gemini"),
    pytest.param("text-embedding-3-small", "/v1/embeddings", id="translated-openai"),
]


@pytest.fixture(scope="session")
def genai_client(gateway_root, api_key) -> genai.Client:
    return genai.Client(
        api_key=api_key,
        http_options=types.HttpOptions(base_url=gateway_root, timeout=30_000),
    )


@pytest.mark.parametrize("model", MODELS)
def test_generate_content(genai_client, model, marker, upstream_request_with):
    res = genai_client.models.generate_content(
        model=model,
        contents=f"Hello {marker}",
        config=types.GenerateContentConfig(system_instruction="Be terse.", max_output_tokens=50),
    )
    assert res.text == f"Mock reply to: Hello {marker}"
    assert res.usage_metadata.prompt_token_count > 0
    sent = upstream_request_with(marker)
    assert sent["path"] == UPSTREAM_PATH[model]
    assert "Be terse." in str(sent["body"])


@pytest.mark.parametrize("model", MODELS)
def test_generate_content_stream(genai_client, model, marker, upstream_request_with):
    chunks = list(
        genai_client.models.generate_content_stream(model=model, contents=f"Stream {marker} now")
    )
    text = "".join(c.text or "" for c in chunks)
    assert text == f"Mock reply to: Stream {marker} now"
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    sent = upstream_request_with(marker)
    assert sent["path"].startswith(UPSTREAM_PATH[model].split(":")[0])


@pytest.mark.parametrize("model,path", EMBED_MODELS)
def test_embed_content(genai_client, model, path, marker, upstream_request_with):
    res = genai_client.models.embed_content(model=model, contents=f"embed {marker}")
    assert len(res.embeddings) == 1
    assert len(res.embeddings[0].values) > 0
    sent = upstream_request_with(marker)
    assert sent["path"] == path


def test_count_tokens_and_models(genai_client):
    n = genai_client.models.count_tokens(model=GPT, contents="count these words please")
    assert n.total_tokens > 0
    n = genai_client.models.count_tokens(model=GEMINI, contents="count these words please")
    assert n.total_tokens > 0
    model = genai_client.models.get(model=GEMINI)
    assert model.name == f"models/{GEMINI}"
    names = [m.name for m in genai_client.models.list()]
    assert f"models/{GEMINI}" in names


def test_errors_raise_the_sdks_own_exception(genai_client):
    from google.genai import errors

    with pytest.raises(errors.ClientError) as e:
        genai_client.models.generate_content(model="no-such-model", contents="x")
    assert e.value.code == 400
    assert e.value.status == "INVALID_ARGUMENT"
