//! End-to-end checks over a real socket with a plain HTTP client: what a
//! gateway would see. One module per provider dialect; the helpers here are
//! the ones they share.

mod anthropic;
mod openai;

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
