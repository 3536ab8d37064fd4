//! OpenAI media content parts as every provider reads them: `data:` URLs split into
//! media type and payload, the URL of an `image_url` part, and the inline data of a
//! `file` part. What a provider accepts (which media types, links or not) and how it
//! writes them stays in the provider's `media` module.

use serde_json::Value;

use crate::translate::anthropic::TranslateError;
use crate::translate::shape::{Object, expected, field, opt_str, present, req_object, req_str};

pub(super) const PDF: &str = "application/pdf";

/// A `data:` URL split into its media type (lowercased) and payload.
pub(super) struct DataUrl<'a> {
    pub media_type: String,
    pub base64: bool,
    pub data: &'a str,
}

impl<'a> DataUrl<'a> {
    /// `None` when `url` is not a `data:` URL (the scheme in any case) with a `,`.
    pub fn parse(url: &'a str) -> Option<Self> {
        let scheme = url.get(..5)?;
        if !scheme.eq_ignore_ascii_case("data:") {
            return None;
        }
        let (header, data) = url.get(5..)?.split_once(',')?;
        let mut params = header.split(';');
        let media_type = params
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let base64 = params.any(|p| p.trim().eq_ignore_ascii_case("base64"));
        Some(DataUrl {
            media_type,
            base64,
            data,
        })
    }

    /// The media type, with the `image/jpg` some clients send read as `image/jpeg`.
    pub fn image_type(&self) -> &str {
        match self.media_type.as_str() {
            "image/jpg" => "image/jpeg",
            other => other,
        }
    }
}

/// An `http://` or `https://` URL, the scheme in any case.
pub(super) fn is_http_url(url: &str) -> bool {
    ["https://", "http://"].iter().any(|scheme| {
        url.get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    })
}

/// The URL of `{"type":"image_url","image_url":{"url","detail"}}` (or
/// `"image_url":"<url>"`, which some clients send), with its path for errors.
pub(super) fn image_part_url<'a>(
    part: &'a Object,
    path: &str,
) -> Result<(&'a str, String), TranslateError> {
    let image_path = field(path, "image_url");
    match present(part, "image_url") {
        Some(Value::String(url)) => Ok((url.as_str(), image_path)),
        Some(Value::Object(image)) => Ok((
            req_str(image, "url", &image_path)?,
            field(&image_path, "url"),
        )),
        _ => Err(expected(&image_path, "an object with a `url`")),
    }
}

/// The `file.file_data` of `{"type":"file","file":{"file_data","filename"}}`, with its
/// path for errors. A part without it names an uploaded file (`file_id`), which no
/// provider can read: refused with `refusal`, which says what to send instead.
pub(super) fn file_part_data<'a>(
    part: &'a Object,
    path: &str,
    refusal: &'static str,
) -> Result<(&'a str, String), TranslateError> {
    let file_path = field(path, "file");
    let file = req_object(part, "file", path)?;
    match opt_str(file, "file_data", &file_path)? {
        Some(data) => Ok((data, field(&file_path, "file_data"))),
        None => Err(TranslateError::new(field(&file_path, "file_id"), refusal)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_urls_split_into_type_and_payload() {
        let d = DataUrl::parse("DATA:Image/JPG ; charset=x;Base64,AAAA").unwrap();
        assert_eq!(
            (d.image_type(), d.base64, d.data),
            ("image/jpeg", true, "AAAA")
        );
        let d = DataUrl::parse("data:text/plain,a,b").unwrap();
        assert_eq!(
            (d.media_type.as_str(), d.base64, d.data),
            ("text/plain", false, "a,b")
        );
        for not in ["data:", "https://x.test/a.png", "dat", ""] {
            assert!(DataUrl::parse(not).is_none(), "{not}");
        }
        assert!(is_http_url("HTTPS://x") && !is_http_url("ftp://x"));
    }
}
