//! `GET /admin/alerts`: alert rows from the outbox, filtered, newest first, and
//! delivered to subscribed webhooks like any event. (The evaluators that write
//! alerts from the usage stream are not built yet; these rows are written
//! through the store, as an evaluator would.)

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tollgate::store::NewEvent;

use crate::common::*;
use crate::webhooks::{Receiver, create_hook, local_hooks};

#[tokio::test]
async fn alerts_are_listed_filtered_and_delivered() {
    let gw = Gateway::start_with(local_hooks).await;
    let rx = Receiver::start(0).await;
    create_hook(&gw, &rx.url, json!(["alert.auth_failures"])).await;
    let store = gw.state().store();
    store
        .insert_event(&NewEvent::now(
            "alert.auth_failures",
            "default",
            json!({"key_id": "k1", "failures": 10, "window_secs": 300}),
        ))
        .await
        .unwrap();
    store
        .insert_event(&NewEvent::now(
            "alert.new_ip",
            "default",
            json!({"key_id": "k2", "ip": "203.0.113.9"}),
        ))
        .await
        .unwrap();
    store
        .insert_event(&NewEvent::now(
            "key.created",
            "default",
            json!({"key_id": "k3"}),
        ))
        .await
        .unwrap();
    let all: Value = gw
        .admin(Method::GET, "/admin/alerts", None)
        .await
        .json()
        .await
        .unwrap();
    let types: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["alert.new_ip", "alert.auth_failures"],
        "newest first, alerts only"
    );
    let one: Value = gw
        .admin(
            Method::GET,
            "/admin/alerts?type=alert.auth_failures&key_id=k1",
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["data"].as_array().unwrap().len(), 1);
    assert_eq!(one["data"][0]["data"]["failures"], 10);
    let none: Value = gw
        .admin(Method::GET, "/admin/alerts?key_id=nope", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["data"], json!([]));
    let res = gw
        .admin(Method::GET, "/admin/alerts?since=yesterday", None)
        .await;
    let body = expect_error(res, 400, "invalid_field").await;
    assert_eq!(body["error"]["param"], "since");

    let (_, ev) = rx.wait_for("alert.auth_failures").await;
    assert_eq!(ev["data"]["key_id"], "k1");
    // Only the subscribed type reached the receiver.
    eventually(Duration::from_secs(5), "the delivery", || async {
        (!rx.all().is_empty()).then_some(())
    })
    .await;
    assert!(
        rx.all()
            .iter()
            .all(|r| r.body.contains("alert.auth_failures"))
    );
}
