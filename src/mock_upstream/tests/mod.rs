//! End-to-end checks over a real socket with a plain HTTP client: what a
//! gateway would see. One module per provider dialect (OpenAI's extra
//! endpoints and Azure's routes apart from chat); the helpers here are the
//! ones they share.

mod anthropic;
mod azure;
mod gemini;
mod gemini_embed;
mod openai;
mod openai_endpoints;

use std::error::Error;

use serde_json::Value;
use tokio::net::TcpListener;

use super::MockUpstream;

type TestResult = Result<(), Box<dyn Error>>;

/// Starts a mock on a free port; returns its base URL.
async fn spawn_mock() -> Result<String, Box<dyn Error>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(MockUpstream::new().serve(listener));
    Ok(format!("http://{addr}"))
}

fn client() -> Result<reqwest::Client, reqwest::Error> {
    // No proxy: a developer's HTTP_PROXY must not intercept 127.0.0.1.
    reqwest::Client::builder().no_proxy().build()
}

async fn stats(base: &str, client: &reqwest::Client) -> Result<Value, Box<dyn Error>> {
    Ok(client
        .get(format!("{base}/_mock/stats"))
        .send()
        .await?
        .json()
        .await?)
}

async fn journal(base: &str, client: &reqwest::Client) -> Result<Value, Box<dyn Error>> {
    Ok(client
        .get(format!("{base}/_mock/requests"))
        .send()
        .await?
        .json()
        .await?)
}

/// Reads a whole body frame by frame: the bytes that arrived, how many
/// reads it took, and whether it ended in an error (a cut connection).
async fn read_frames(response: reqwest::Response) -> (Vec<u8>, usize, bool) {
    use futures_util::StreamExt;
    let mut frames = response.bytes_stream();
    let (mut body, mut reads, mut broken) = (Vec::new(), 0, false);
    while let Some(frame) = frames.next().await {
        match frame {
            Ok(bytes) => {
                reads += 1;
                body.extend_from_slice(&bytes);
            }
            Err(_) => broken = true,
        }
    }
    (body, reads, broken)
}

/// Standard padded base64, decoded independently of the mock's encoder so
/// the two check each other.
fn base64_decode(text: &str) -> Result<Vec<u8>, Box<dyn Error>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if !text.len().is_multiple_of(4) {
        return Err(format!("base64 length {} is not a multiple of 4", text.len()).into());
    }
    let mut bits: Vec<u8> = Vec::new();
    for c in text.trim_end_matches('=').bytes() {
        let value = ALPHABET
            .iter()
            .position(|&a| a == c)
            .ok_or_else(|| format!("{:?} is not base64", char::from(c)))?;
        bits.extend((0..6).rev().map(|shift| u8::from(value >> shift & 1 == 1)));
    }
    Ok(bits
        .chunks_exact(8)
        .map(|byte| byte.iter().fold(0, |acc, bit| acc << 1 | bit))
        .collect())
}

#[test]
fn test_base64_decoder_reads_rfc_vectors() -> TestResult {
    assert_eq!(base64_decode("Zm9vYmE=")?, b"fooba");
    assert_eq!(base64_decode("Zm9vYmFy")?, b"foobar");
    assert_eq!(base64_decode("")?, b"");
    assert!(base64_decode("Zm9").is_err());
    Ok(())
}
