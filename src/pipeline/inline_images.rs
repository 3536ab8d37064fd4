//! Image links in a request bound for a provider that takes images inline only
//! (Gemini): fetched here, before translation, and written back into the caller's
//! body as base64 (a data URL, or Anthropic's `base64` source), so the translators
//! stay pure functions and see only inline images.
//!
//! Where links are looked for, per caller format:
//! - OpenAI chat: `messages[i].content[j]` parts of type `image_url`
//!   (`image_url.url`, or `image_url` as a string);
//! - Responses: `input[i].content[j]` parts of type `input_image` (`image_url`);
//! - Anthropic messages: `messages[i].content[j]` blocks of type `image` with a
//!   `url` source, also inside `tool_result` contents.
//!
//! Only `http(s)` links are fetched ([`ImageFetcher`]: the outbound address
//! policy, a size and a time bound, an `image/*` answer), one after the other,
//! so a request holds at most one download at a time. A link that cannot be
//! inlined is the caller's 400, naming the field. Bodies without links are not
//! re-serialised.

use base64::Engine;
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::CallerFormat;
use crate::error::ApiError;
use crate::providers::image_fetch::{FetchedImage, ImageFetcher};

/// One link found in the body: where it sits, and how to write the image back.
struct Link {
    /// JSON path for the error (`messages[0].content[1].image_url.url`).
    field: String,
    /// JSON pointer of the value to replace.
    pointer: String,
    url: String,
    shape: Shape,
}

#[derive(Clone, Copy)]
enum Shape {
    /// The URL string itself becomes a data URL.
    DataUrl,
    /// The `source` object becomes `{"type":"base64","media_type","data"}`.
    AnthropicSource,
}

/// `body` with every image link inlined, or `None` when it has none (or is not a
/// format that carries image links).
pub async fn inline(
    fetcher: &ImageFetcher,
    format: CallerFormat,
    body: &Bytes,
) -> Result<Option<Bytes>, ApiError> {
    // Most requests carry no link at all: skip the parse (a byte scan is far
    // cheaper than building a `Value` of a body full of base64).
    if !body.windows(4).any(|w| w.eq_ignore_ascii_case(b"http")) {
        return Ok(None);
    }
    let Ok(mut json) = serde_json::from_slice::<Value>(body) else {
        // Not JSON: the translator reports it the usual way.
        return Ok(None);
    };
    let links = match format {
        CallerFormat::OpenAiChat => chat_links(&json),
        CallerFormat::OpenAiResponses => responses_links(&json),
        CallerFormat::AnthropicMessages => anthropic_links(&json),
        _ => Vec::new(),
    };
    if links.is_empty() {
        return Ok(None);
    }
    for link in links {
        let image = fetcher
            .fetch(&link.url)
            .await
            .map_err(|e| ApiError::InvalidBodyField {
                field: link.field.clone(),
                message: format!("`{}`: {e}", link.field),
            })?;
        metrics::counter!("tollgate_image_links_inlined_total").increment(1);
        if let Some(slot) = json.pointer_mut(&link.pointer) {
            *slot = written(link.shape, &image);
        }
    }
    serde_json::to_vec(&json)
        .map(|v| Some(Bytes::from(v)))
        .map_err(ApiError::internal)
}

fn written(shape: Shape, image: &FetchedImage) -> Value {
    let data = base64::engine::general_purpose::STANDARD.encode(&image.bytes);
    match shape {
        Shape::DataUrl => Value::String(format!("data:{};base64,{data}", image.media_type)),
        Shape::AnthropicSource => {
            json!({"type": "base64", "media_type": image.media_type, "data": data})
        }
    }
}

/// `(index, item)` of an array field of `v`.
fn items<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = (usize, &'a Value)> {
    v.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
}

fn kind(part: &Value) -> Option<&str> {
    part.get("type").and_then(Value::as_str)
}

fn link(field: String, pointer: String, url: &str, shape: Shape) -> Option<Link> {
    ImageFetcher::is_link(url).then(|| Link {
        field,
        pointer,
        url: url.to_owned(),
        shape,
    })
}

fn chat_links(body: &Value) -> Vec<Link> {
    let mut out = Vec::new();
    for (i, message) in items(body, "messages") {
        for (j, part) in items(message, "content") {
            if kind(part) != Some("image_url") {
                continue;
            }
            let at = format!("messages[{i}].content[{j}].image_url");
            let ptr = format!("/messages/{i}/content/{j}/image_url");
            let found = match part.get("image_url") {
                Some(Value::String(url)) => link(at, ptr, url, Shape::DataUrl),
                Some(Value::Object(o)) => match o.get("url") {
                    Some(Value::String(url)) => link(
                        format!("{at}.url"),
                        format!("{ptr}/url"),
                        url,
                        Shape::DataUrl,
                    ),
                    _ => None,
                },
                _ => None,
            };
            out.extend(found);
        }
    }
    out
}

fn responses_links(body: &Value) -> Vec<Link> {
    let mut out = Vec::new();
    for (i, item) in items(body, "input") {
        for (j, part) in items(item, "content") {
            if kind(part) != Some("input_image") {
                continue;
            }
            if let Some(Value::String(url)) = part.get("image_url") {
                out.extend(link(
                    format!("input[{i}].content[{j}].image_url"),
                    format!("/input/{i}/content/{j}/image_url"),
                    url,
                    Shape::DataUrl,
                ));
            }
        }
    }
    out
}

fn anthropic_links(body: &Value) -> Vec<Link> {
    fn url_source(block: &Value) -> Option<&str> {
        let source: &Map<String, Value> = block.get("source")?.as_object()?;
        (source.get("type")?.as_str()? == "url")
            .then(|| source.get("url")?.as_str())
            .flatten()
    }
    let mut out = Vec::new();
    for (i, message) in items(body, "messages") {
        for (j, block) in items(message, "content") {
            let (at, ptr) = (
                format!("messages[{i}].content[{j}]"),
                format!("/messages/{i}/content/{j}"),
            );
            match kind(block) {
                Some("image") => {
                    if let Some(url) = url_source(block) {
                        out.extend(link(
                            format!("{at}.source.url"),
                            format!("{ptr}/source"),
                            url,
                            Shape::AnthropicSource,
                        ));
                    }
                }
                Some("tool_result") => {
                    for (k, inner) in items(block, "content") {
                        if kind(inner) == Some("image")
                            && let Some(url) = url_source(inner)
                        {
                            out.extend(link(
                                format!("{at}.content[{k}].source.url"),
                                format!("{ptr}/content/{k}/source"),
                                url,
                                Shape::AnthropicSource,
                            ));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_found_where_each_format_puts_them() {
        let chat = json!({"messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "hi"},
                {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
                {"type": "image_url", "image_url": "http://x.test/b.png"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}
            ]},
            {"role": "user", "content": "https://x.test/not-an-image-part.png"}
        ]});
        let found: Vec<(String, String)> = chat_links(&chat)
            .into_iter()
            .map(|l| (l.field, l.pointer))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "messages[0].content[1].image_url.url".into(),
                    "/messages/0/content/1/image_url/url".into()
                ),
                (
                    "messages[0].content[2].image_url".into(),
                    "/messages/0/content/2/image_url".into()
                ),
            ]
        );
        let responses = json!({"input": [{"role": "user", "content": [
            {"type": "input_image", "image_url": "https://x.test/a.png"}]}]});
        assert_eq!(
            responses_links(&responses)[0].pointer,
            "/input/0/content/0/image_url"
        );
        let anthropic = json!({"messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
            {"type": "tool_result", "tool_use_id": "t", "content": [
                {"type": "image", "source": {"type": "url", "url": "https://x.test/b.png"}}]},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}}
        ]}]});
        let found: Vec<String> = anthropic_links(&anthropic)
            .into_iter()
            .map(|l| l.pointer)
            .collect();
        assert_eq!(
            found,
            [
                "/messages/0/content/0/source",
                "/messages/0/content/1/content/0/source"
            ]
        );
    }

    #[test]
    fn images_are_written_back_in_each_shape() {
        let image = FetchedImage {
            media_type: "image/png".into(),
            bytes: Bytes::from_static(b"\x89PNG"),
        };
        assert_eq!(
            written(Shape::DataUrl, &image),
            json!("data:image/png;base64,iVBORw==")
        );
        assert_eq!(
            written(Shape::AnthropicSource, &image),
            json!({"type": "base64", "media_type": "image/png", "data": "iVBORw=="})
        );
    }
}
