//! The metrics every request ends with (`tollgate_requests_total`, durations,
//! tokens, spend), with their handles registered once and kept.
//!
//! Why: a labelled `metrics::counter!` builds its key (label `String`s, a
//! status formatted to text) and looks it up in the recorder's registry on every
//! call; five of them were a good part of `Metering::finish` (issue 16). Here the
//! unlabelled handles are made at startup, and a labelled one the first time its
//! labels are seen; after that a request costs a read-locked map lookup per
//! metric. Build this after the recorder is installed
//! (`telemetry::install_metrics`): a handle made before it records nowhere.
//!
//! The label sets are the routes, providers, statuses and models the gateway
//! serves, so the maps stay small; past `MAX_CACHED` keys a new label set is
//! recorded through the macro, uncached, rather than growing them.

use std::collections::HashMap;

use metrics::{Counter, Histogram};
use parking_lot::RwLock;

/// Label sets kept per map; more are recorded without a cached handle.
const MAX_CACHED: usize = 4096;

/// One route's handles: its duration, and its request counter by provider and status.
struct Route {
    duration: Histogram,
    requests: HashMap<Box<str>, HashMap<u16, Counter>>,
    cached: usize,
}

pub struct RequestMetrics {
    input_tokens: Counter,
    output_tokens: Counter,
    spend: Counter,
    charge_capped: Counter,
    routes: RwLock<HashMap<Box<str>, Route>>,
    ttfb: RwLock<HashMap<Box<str>, Histogram>>,
    images: RwLock<HashMap<Box<str>, Counter>>,
}

impl Default for RequestMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestMetrics {
    pub fn new() -> Self {
        RequestMetrics {
            input_tokens: metrics::counter!("tollgate_tokens_total", "direction" => "input"),
            output_tokens: metrics::counter!("tollgate_tokens_total", "direction" => "output"),
            spend: metrics::counter!("tollgate_spend_micro_usd_total"),
            charge_capped: metrics::counter!("tollgate_charge_capped_total"),
            routes: RwLock::default(),
            ttfb: RwLock::default(),
            images: RwLock::default(),
        }
    }

    /// A finished request: counted by route, status and provider, timed by route.
    pub fn request(&self, route: &str, status: u16, provider: &str, latency_secs: f64) {
        {
            let routes = self.routes.read();
            if let Some(r) = routes.get(route)
                && let Some(c) = r.requests.get(provider).and_then(|m| m.get(&status))
            {
                c.increment(1);
                r.duration.record(latency_secs);
                return;
            }
        }
        let mut routes = self.routes.write();
        if routes.len() >= MAX_CACHED && !routes.contains_key(route) {
            drop(routes);
            requests_counter(route, status, provider).increment(1);
            duration_histogram(route).record(latency_secs);
            return;
        }
        let r = routes.entry(route.into()).or_insert_with(|| Route {
            duration: duration_histogram(route),
            requests: HashMap::new(),
            cached: 0,
        });
        r.duration.record(latency_secs);
        if let Some(c) = r.requests.get(provider).and_then(|m| m.get(&status)) {
            c.increment(1);
            return;
        }
        let c = requests_counter(route, status, provider);
        c.increment(1);
        if r.cached < MAX_CACHED {
            r.cached += 1;
            r.requests
                .entry(provider.into())
                .or_default()
                .insert(status, c);
        }
    }

    /// Time to the upstream's first byte, by provider.
    pub fn ttfb(&self, provider: &str, secs: f64) {
        with_cached(
            &self.ttfb,
            provider,
            || metrics::histogram!("tollgate_upstream_ttfb_seconds", "provider" => provider.to_owned()),
            |h| h.record(secs),
        );
    }

    /// Images delivered, by the model that made them.
    pub fn images(&self, model: &str, n: u64) {
        with_cached(
            &self.images,
            model,
            || metrics::counter!("tollgate_images_total", "model" => model.to_owned()),
            |c| c.increment(n),
        );
    }

    pub fn tokens(&self, input: u64, output: u64) {
        self.input_tokens.increment(input);
        self.output_tokens.increment(output);
    }

    pub fn spend(&self, micro_usd: u64) {
        self.spend.increment(micro_usd);
    }

    pub fn charge_capped(&self) {
        self.charge_capped.increment(1);
    }
}

fn requests_counter(route: &str, status: u16, provider: &str) -> Counter {
    metrics::counter!(
        "tollgate_requests_total",
        "route" => route.to_owned(),
        "status" => status.to_string(),
        "provider" => provider.to_owned()
    )
}

fn duration_histogram(route: &str) -> Histogram {
    metrics::histogram!("tollgate_request_duration_seconds", "route" => route.to_owned())
}

/// Runs `f` on the handle cached under `key`, making it with `make` the first time.
fn with_cached<H>(
    map: &RwLock<HashMap<Box<str>, H>>,
    key: &str,
    make: impl FnOnce() -> H,
    f: impl FnOnce(&H),
) {
    if let Some(h) = map.read().get(key) {
        return f(h);
    }
    let mut map = map.write();
    if let Some(h) = map.get(key) {
        return f(h);
    }
    let h = make();
    f(&h);
    if map.len() < MAX_CACHED {
        map.insert(key.into(), h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_cached_per_label_set_and_bounded() {
        let m = RequestMetrics::new();
        m.request("/v1/chat/completions", 200, "openai", 0.01);
        m.request("/v1/chat/completions", 200, "openai", 0.01);
        m.request("/v1/chat/completions", 429, "", 0.01);
        m.ttfb("openai", 0.005);
        m.images("dall-e-2", 2);
        let routes = m.routes.read();
        let r = &routes["/v1/chat/completions"];
        assert_eq!(r.cached, 2);
        assert!(r.requests["openai"].contains_key(&200) && r.requests[""].contains_key(&429));
        drop(routes);
        assert!(m.ttfb.read().contains_key("openai"));
        for i in 0..MAX_CACHED + 10 {
            m.images(&format!("m{i}"), 1);
        }
        assert_eq!(m.images.read().len(), MAX_CACHED);
    }
}
