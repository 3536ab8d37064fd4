//! Images and PDFs between OpenAI content parts (data URLs, http(s) URLs) and Anthropic
//! `image`/`document` blocks (`source` of type `base64` or `url`).

use serde_json::{Value, json};

use super::TranslateError;
use crate::translate::data_url::{DataUrl, PDF, file_part_data, image_part_url, is_http_url};
use crate::translate::shape::{Object, expected, field, opt_str, req_object, req_str};

/// The image types Anthropic accepts.
const IMAGE_MEDIA_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];

/// OpenAI `{"type":"image_url","image_url":{"url","detail"}}` (or `"image_url":"<url>"`,
/// which some clients send) → Anthropic `image` block. `detail` is dropped.
pub(super) fn image_part_to_block(part: &Object, path: &str) -> Result<Value, TranslateError> {
    let (url, url_path) = image_part_url(part, path)?;
    if let Some(data_url) = DataUrl::parse(url) {
        if !data_url.base64 {
            return Err(expected(
                &url_path,
                "a base64 data URL (`data:image/png;base64,…`)",
            ));
        }
        let media_type = data_url.image_type();
        if !IMAGE_MEDIA_TYPES.contains(&media_type) {
            return Err(TranslateError::new(
                url_path,
                format!(
                    "image type `{media_type}` is not supported by Anthropic models; \
                     send image/jpeg, image/png, image/gif or image/webp"
                ),
            ));
        }
        return Ok(json!({
            "type": "image",
            "source": { "type": "base64", "media_type": media_type, "data": data_url.data },
        }));
    }
    if is_http_url(url) {
        return Ok(json!({ "type": "image", "source": { "type": "url", "url": url } }));
    }
    Err(expected(&url_path, "an https URL or a base64 data URL"))
}

/// OpenAI `{"type":"file","file":{"file_data","filename"}}` → Anthropic `document` block.
/// Only PDFs sent inline are expressible; `file_data` may be a data URL or bare base64.
pub(super) fn file_part_to_block(part: &Object, path: &str) -> Result<Value, TranslateError> {
    let (file_data, data_path) = file_part_data(
        part,
        path,
        "uploaded OpenAI files cannot be sent to an Anthropic model; \
         send the PDF inline as `file.file_data`",
    )?;
    let data = match DataUrl::parse(file_data) {
        Some(d) if d.base64 && d.media_type == PDF => d.data,
        Some(_) => {
            return Err(TranslateError::new(
                data_path,
                "only PDF files (`data:application/pdf;base64,…`) can be sent to an Anthropic model",
            ));
        }
        None => file_data,
    };
    Ok(json!({
        "type": "document",
        "source": { "type": "base64", "media_type": PDF, "data": data },
    }))
}

/// Anthropic `image` block → OpenAI `image_url` part (base64 → data URL).
pub(super) fn image_block_to_part(block: &Object, path: &str) -> Result<Value, TranslateError> {
    let source_path = field(path, "source");
    let source = req_object(block, "source", path)?;
    let url = match req_str(source, "type", &source_path)? {
        "base64" => {
            let media_type = req_str(source, "media_type", &source_path)?;
            let data = req_str(source, "data", &source_path)?;
            format!("data:{media_type};base64,{data}")
        }
        "url" => req_str(source, "url", &source_path)?.to_owned(),
        other => return Err(unsupported_source(&source_path, other)),
    };
    Ok(json!({ "type": "image_url", "image_url": { "url": url } }))
}

/// Anthropic `document` block → OpenAI part: a base64 PDF becomes a `file` part, a plain
/// text document a `text` part.
pub(super) fn document_block_to_part(block: &Object, path: &str) -> Result<Value, TranslateError> {
    let source_path = field(path, "source");
    let source = req_object(block, "source", path)?;
    match req_str(source, "type", &source_path)? {
        "base64" => {
            let media_type = req_str(source, "media_type", &source_path)?;
            if media_type != PDF {
                return Err(TranslateError::new(
                    field(&source_path, "media_type"),
                    format!(
                        "document type `{media_type}` cannot be sent to an OpenAI model; send a PDF"
                    ),
                ));
            }
            let data = req_str(source, "data", &source_path)?;
            let filename = opt_str(block, "title", path)?.unwrap_or("document.pdf");
            Ok(json!({
                "type": "file",
                "file": { "filename": filename, "file_data": format!("data:{PDF};base64,{data}") },
            }))
        }
        "text" => {
            let text = req_str(source, "data", &source_path)?;
            Ok(json!({ "type": "text", "text": text }))
        }
        other => Err(unsupported_source(&source_path, other)),
    }
}

fn unsupported_source(source_path: &str, kind: &str) -> TranslateError {
    TranslateError::new(
        field(source_path, "type"),
        format!("source type `{kind}` cannot be sent to an OpenAI model; send `base64` data"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Object {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn data_urls_become_base64_sources_and_back() {
        let part = obj(
            json!({"type":"image_url","image_url":{"url":"data:image/JPG;base64,AAAA","detail":"high"}}),
        );
        let block = image_part_to_block(&part, "p").unwrap();
        assert_eq!(
            block,
            json!({"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"AAAA"}})
        );
        let back = image_block_to_part(&obj(block), "b").unwrap();
        assert_eq!(
            back,
            json!({"type":"image_url","image_url":{"url":"data:image/jpeg;base64,AAAA"}})
        );
    }

    #[test]
    fn https_urls_stay_urls_both_ways() {
        let part = obj(json!({"type":"image_url","image_url":"https://x.test/cat.png"}));
        let block = image_part_to_block(&part, "p").unwrap();
        assert_eq!(
            block,
            json!({"type":"image","source":{"type":"url","url":"https://x.test/cat.png"}})
        );
        let back = image_block_to_part(&obj(block), "b").unwrap();
        assert_eq!(
            back,
            json!({"type":"image_url","image_url":{"url":"https://x.test/cat.png"}})
        );
    }

    #[test]
    fn bad_images_name_the_url() {
        for url in [
            "data:image/bmp;base64,AA",
            "data:image/png,AA",
            "ftp://x/y.png",
            "data:",
        ] {
            let part = obj(json!({"type":"image_url","image_url":{"url":url}}));
            let err = image_part_to_block(&part, "m[0].content[1]").unwrap_err();
            assert_eq!(err.field, "m[0].content[1].image_url.url", "{url}");
        }
        let err = image_part_to_block(&obj(json!({"type":"image_url"})), "p").unwrap_err();
        assert_eq!(err.field, "p.image_url");
    }

    #[test]
    fn pdfs_round_trip_and_file_ids_are_refused() {
        let part = obj(
            json!({"type":"file","file":{"file_data":"data:application/pdf;base64,JVBE","filename":"a.pdf"}}),
        );
        let block = file_part_to_block(&part, "p").unwrap();
        assert_eq!(
            block,
            json!({"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBE"}})
        );
        let back = document_block_to_part(&obj(block), "b").unwrap();
        assert_eq!(
            back["file"]["file_data"],
            "data:application/pdf;base64,JVBE"
        );

        let err = file_part_to_block(
            &obj(json!({"type":"file","file":{"file_id":"file-1"}})),
            "p",
        )
        .unwrap_err();
        assert_eq!(err.field, "p.file.file_id");
        let err = file_part_to_block(
            &obj(json!({"type":"file","file":{"file_data":"data:text/csv;base64,AA"}})),
            "p",
        )
        .unwrap_err();
        assert_eq!(err.field, "p.file.file_data");
    }

    #[test]
    fn text_documents_become_text_and_file_sources_are_refused() {
        let doc = obj(
            json!({"type":"document","source":{"type":"text","media_type":"text/plain","data":"hello"}}),
        );
        assert_eq!(
            document_block_to_part(&doc, "b").unwrap(),
            json!({"type":"text","text":"hello"})
        );
        let img = obj(json!({"type":"image","source":{"type":"file","file_id":"f"}}));
        assert_eq!(
            image_block_to_part(&img, "b").unwrap_err().field,
            "b.source.type"
        );
    }
}
