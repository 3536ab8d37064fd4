//! OpenAI media content parts → Gemini `inlineData{mimeType,data}` parts.
//!
//! Gemini takes media inline as base64 (or as `fileData` for files uploaded to its
//! Files API or GCS, which OpenAI clients do not have). A pure function cannot fetch
//! an `https` image, so only `data:` URLs translate here; the pipeline fetches image
//! links and rewrites them into data URLs before translating
//! (`pipeline::inline_images`). A link that still arrives (a fallback whose fetch
//! failed) is refused with a message saying to send a data URL.

use serde_json::{Value, json};

use super::TranslateError;
use crate::translate::data_url::{DataUrl, PDF, file_part_data, image_part_url};
use crate::translate::shape::{Object, expected, field, req_object, req_str};

fn inline_data(mime_type: &str, data: &str) -> Value {
    json!({ "inlineData": { "mimeType": mime_type, "data": data } })
}

/// `{"type":"image_url","image_url":{"url","detail"}}` (or `"image_url":"<url>"`) →
/// `inlineData`. `detail` is dropped.
pub(super) fn image_part(part: &Object, path: &str) -> Result<Value, TranslateError> {
    let (url, url_path) = image_part_url(part, path)?;
    let Some(data_url) = DataUrl::parse(url) else {
        return Err(TranslateError::new(
            &url_path,
            format!(
                "`{url_path}`: Gemini models take images inline only; send the image as a \
                 base64 data URL (`data:image/png;base64,…`) instead of a link"
            ),
        ));
    };
    let media_type = data_url.image_type();
    if !data_url.base64 || !media_type.starts_with("image/") {
        return Err(expected(
            &url_path,
            "a base64 image data URL (`data:image/png;base64,…`)",
        ));
    }
    Ok(inline_data(media_type, data_url.data))
}

/// `{"type":"file","file":{"file_data","filename"}}` → `inlineData`. `file_data` may be
/// a data URL of any type Gemini reads (PDF, text, audio, video) or bare base64, taken
/// as a PDF (the only type OpenAI accepts there). Uploaded OpenAI files (`file_id`)
/// are refused: Gemini cannot read them.
pub(super) fn file_part(part: &Object, path: &str) -> Result<Value, TranslateError> {
    let (file_data, data_path) = file_part_data(
        part,
        path,
        "uploaded OpenAI files cannot be sent to a Gemini model; \
         send the file inline as `file.file_data`",
    )?;
    match DataUrl::parse(file_data) {
        Some(d) if d.base64 && !d.media_type.is_empty() => Ok(inline_data(&d.media_type, d.data)),
        Some(_) => Err(expected(
            &data_path,
            "a base64 data URL (`data:application/pdf;base64,…`)",
        )),
        None => Ok(inline_data(PDF, file_data)),
    }
}

/// `{"type":"input_audio","input_audio":{"data","format"}}` → `inlineData` with
/// `audio/<format>` (OpenAI sends `wav` or `mp3`; Gemini reads both and more).
pub(super) fn audio_part(part: &Object, path: &str) -> Result<Value, TranslateError> {
    let audio_path = field(path, "input_audio");
    let audio = req_object(part, "input_audio", path)?;
    let data = req_str(audio, "data", &audio_path)?;
    let format = req_str(audio, "format", &audio_path)?;
    let mime_type = match format.to_ascii_lowercase().as_str() {
        "mp3" | "mpeg" => "audio/mp3".to_owned(),
        "" => return Err(expected(&field(&audio_path, "format"), "`wav` or `mp3`")),
        other => format!("audio/{other}"),
    };
    Ok(inline_data(&mime_type, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Object {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn data_urls_become_inline_data() {
        let part = obj(
            json!({"type":"image_url","image_url":{"url":"data:image/JPG;base64,AAAA","detail":"high"}}),
        );
        assert_eq!(
            image_part(&part, "p").unwrap(),
            json!({"inlineData":{"mimeType":"image/jpeg","data":"AAAA"}})
        );
        let bare = obj(json!({"type":"image_url","image_url":"data:image/webp;base64,UklG"}));
        assert_eq!(
            image_part(&bare, "p").unwrap()["inlineData"]["mimeType"],
            "image/webp"
        );
    }

    #[test]
    fn links_and_bad_images_name_the_url() {
        for url in [
            "https://x.test/cat.png",
            "http://x.test/cat.png",
            "data:image/png,AA",
            "data:text/plain;base64,AA",
            "data:",
        ] {
            let part = obj(json!({"type":"image_url","image_url":{"url":url}}));
            let err = image_part(&part, "messages[0].content[1]").unwrap_err();
            assert_eq!(err.field, "messages[0].content[1].image_url.url", "{url}");
        }
        let err = image_part(&obj(json!({"type":"image_url"})), "p").unwrap_err();
        assert_eq!(err.field, "p.image_url");
        let err = image_part(
            &obj(json!({"type":"image_url","image_url":{"url":"https://x.test/a.png"}})),
            "p",
        )
        .unwrap_err();
        assert!(err.message.contains("data URL"), "{}", err.message);
    }

    #[test]
    fn files_and_audio_become_inline_data() {
        let pdf =
            obj(json!({"type":"file","file":{"file_data":"data:application/pdf;base64,JVBE"}}));
        assert_eq!(
            file_part(&pdf, "p").unwrap(),
            json!({"inlineData":{"mimeType":"application/pdf","data":"JVBE"}})
        );
        let bare = obj(json!({"type":"file","file":{"file_data":"JVBE","filename":"a.pdf"}}));
        assert_eq!(
            file_part(&bare, "p").unwrap()["inlineData"]["mimeType"],
            PDF
        );
        let err = file_part(
            &obj(json!({"type":"file","file":{"file_id":"file-1"}})),
            "p",
        );
        assert_eq!(err.unwrap_err().field, "p.file.file_id");

        let audio = obj(json!({"type":"input_audio","input_audio":{"data":"UklG","format":"wav"}}));
        assert_eq!(
            audio_part(&audio, "p").unwrap(),
            json!({"inlineData":{"mimeType":"audio/wav","data":"UklG"}})
        );
        let mp3 = obj(json!({"type":"input_audio","input_audio":{"data":"SUQz","format":"mp3"}}));
        assert_eq!(
            audio_part(&mp3, "p").unwrap()["inlineData"]["mimeType"],
            "audio/mp3"
        );
        let err = audio_part(
            &obj(json!({"type":"input_audio","input_audio":{"data":"x"}})),
            "p",
        );
        assert_eq!(err.unwrap_err().field, "p.input_audio.format");
    }
}
