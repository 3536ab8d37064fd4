//! The model catalog: built-in models with prices, extended or overridden by
//! `[[models]]`, plus `[[aliases]]` that name one model per provider.
//!
//! Resolution is a hash lookup done once per request; the `/v1/models` body is
//! rendered once at build time.

use std::collections::HashMap;

/// Looked up on every request with keys from the request (model ids, deployment
/// ids) but filled only from the config, so a caller cannot grow a collision
/// chain: foldhash instead of SipHash (`Catalog::fallbacks` alone was ~1.6k
/// instructions per request in SipHash under callgrind; bench/RESULTS.md).
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::json;

use super::ProviderKind;
use crate::config::{AliasSpec, ModelSpec};

/// One model the gateway can route to. Prices are integer micro-USD per million
/// tokens (DESIGN §4: no floats past config parsing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelEntry {
    pub id: Arc<str>,
    pub provider: ProviderKind,
    pub input_micro_usd_per_mtok: u64,
    pub output_micro_usd_per_mtok: u64,
    pub cached_input_micro_usd_per_mtok: u64,
    /// The most output the provider produces when a request names no limit (its
    /// documented maximum), for prepaid reservations; `None` when unknown.
    pub max_output_tokens: Option<u64>,
    /// Model ids tried in order when this one fails everywhere (`[[models]] fallbacks`).
    pub fallbacks: Vec<Arc<str>>,
}

/// The outcome of resolving a requested model id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub provider: ProviderKind,
    /// The name the provider knows the model by.
    pub upstream_model: Arc<str>,
    /// The catalog entry, when the upstream model is in the catalog (prices).
    pub entry: Option<Arc<ModelEntry>>,
}

#[derive(Debug, Clone)]
struct Alias {
    targets: Vec<(ProviderKind, Arc<str>)>,
    fallbacks: Vec<Arc<str>>,
}

#[derive(Debug)]
pub struct Catalog {
    models: FastMap<Arc<str>, Arc<ModelEntry>>,
    aliases: FastMap<Arc<str>, Alias>,
    /// Listing order: models as declared, then aliases.
    order: Vec<(Arc<str>, Option<ProviderKind>)>,
    list_body: Bytes,
}

/// (id, provider, input, output, cached input) in USD per million tokens: list
/// prices (standard tier, short context) as published by each vendor; override
/// them in `[[models]]`. Each group names the provider page its prices were read
/// from; the README's catalog section says which rows were re-checked when.
#[rustfmt::skip]
const BUILT_IN: &[(&str, ProviderKind, f64, f64, f64)] = &[
    // Read from each model's page, https://developers.openai.com/api/docs/models/<id>
    // (checked 2026-12-01). gpt-6.2-sol is Codex CLI 0.171's default model.
    // Prompts over 272K input tokens cost more there; not modelled here.
    ("gpt-6.2-sol",            ProviderKind::OpenAi,    2.00, 10.00, 0.10),
    ("gpt-6-luna",             ProviderKind::OpenAi,    0.10,  0.50, 0.01),
    ("gpt-5.6-luna",           ProviderKind::OpenAi,    0.20,  1.20, 0.02),
    // Re-checked on 2026-12-01 against each model's page,
    // https://developers.openai.com/api/docs/models/<id> (the `ko-KR` copy for
    // gpt-5-mini), and https://developers.openai.com/api/docs/deprecations: OpenAI
    // marks gpt-5, gpt-5-mini and gpt-5-nano deprecated, shutting down on
    // 2026-12-11; they stay until then. gpt-5's price is not on a stored OpenAI page
    // (only its $1.25 input, in gpt-5-codex's comparison): carried over.
    ("gpt-5",                  ProviderKind::OpenAi,    1.25, 10.00, 0.125),
    ("gpt-5-mini",             ProviderKind::OpenAi,    0.25,  2.00, 0.025),
    ("gpt-5-nano",             ProviderKind::OpenAi,    0.05,  0.40, 0.005),
    // Carried over, not re-checked on 2026-12-01: no OpenAI page for these models
    // was at hand (README, "Catalog prices and their sources").
    ("gpt-4.1",                ProviderKind::OpenAi,    2.00,  8.00, 0.50),
    ("gpt-4.1-mini",           ProviderKind::OpenAi,    0.40,  1.60, 0.10),
    ("gpt-4o",                 ProviderKind::OpenAi,    2.50, 10.00, 1.25),
    ("gpt-4o-mini",            ProviderKind::OpenAi,    0.15,  0.60, 0.075),
    ("o3",                     ProviderKind::OpenAi,    2.00,  8.00, 0.50),
    ("o4-mini",                ProviderKind::OpenAi,    1.10,  4.40, 0.275),
    // From https://developers.openai.com/api/docs/models/gpt-3.5-turbo-instruct
    // (checked 2026-12-01): $1.50 in, $2 out, no cached-input price (cached input
    // is billed as input).
    ("gpt-3.5-turbo-instruct", ProviderKind::OpenAi,    1.50,  2.00, 1.50),
    // Carried over, not re-checked on 2026-12-01 (no OpenAI page at hand).
    ("text-embedding-3-small", ProviderKind::OpenAi,    0.02,  0.00, 0.00),
    ("text-embedding-3-large", ProviderKind::OpenAi,    0.13,  0.00, 0.00),
    // Priced per image by OpenAI; per-token prices do not apply (README). OpenAI's
    // page (https://developers.openai.com/api/docs/models/dall-e-2, checked
    // 2026-12-01) says dall-e-2 was removed from the API; it stays only because the
    // images route counts a request without `model` as dall-e-2
    // (`translate::peek::DEFAULT_IMAGE_MODEL`; the body goes upstream unchanged).
    // Retired on 2026-12-01, shut down by OpenAI per their model pages: gpt-4.1-nano,
    // gpt-image-1 (on 2026-10-23) and dall-e-3.
    ("dall-e-2",               ProviderKind::OpenAi,    0.00,  0.00, 0.00),
    // Read from each model's page, https://platform.claude.com/docs/<lang>/models/<model>/overview
    // (checked 2026-12-01); "cached input" is the cache-read (hit) price.
    // claude-opus-5-5 is Claude Code 2.1.332's default model.
    ("claude-opus-5-5",        ProviderKind::Anthropic, 4.00, 20.00, 0.20),
    ("claude-opus-5",          ProviderKind::Anthropic, 5.00, 25.00, 0.50),
    ("claude-sonnet-5-5",      ProviderKind::Anthropic, 2.00, 10.00, 0.20),
    ("claude-sonnet-5",        ProviderKind::Anthropic, 2.00, 10.00, 0.20),
    // From https://platform.claude.com/docs/en/about-claude/pricing (checked 2026-12-01).
    ("claude-fable-5-1",       ProviderKind::Anthropic, 10.00, 50.00, 0.25),
    ("claude-opus-4-1",        ProviderKind::Anthropic, 15.00, 75.00, 1.50),
    ("claude-sonnet-4-5",      ProviderKind::Anthropic, 3.00, 15.00, 0.30),
    ("claude-haiku-4-5",       ProviderKind::Anthropic, 1.00,  5.00, 0.10),
    // Gemini: prices carried over, not re-checked on 2026-12-01 (no copy of
    // https://ai.google.dev/gemini-api/docs/pricing was at hand). Google's
    // deprecations page (https://ai.google.dev/gemini-api/docs/deprecations) lists
    // earliest shutdown dates for the 2.5 models that have passed; they stay until
    // a Google page prices their successors (README). text-embedding-004 was retired
    // on 2026-12-01: Google shut it down on 2026-01-14
    // (https://ai.google.dev/gemini-api/docs/changelog).
    ("gemini-2.5-pro",         ProviderKind::Gemini,    1.25, 10.00, 0.31),
    ("gemini-2.5-flash",       ProviderKind::Gemini,    0.30,  2.50, 0.075),
    ("gemini-2.5-flash-lite",  ProviderKind::Gemini,    0.10,  0.40, 0.025),
    ("gemini-embedding-001",   ProviderKind::Gemini,    0.15,  0.00, 0.00),
    // The OpenAI-compatible vendors: carried over, not re-checked on 2026-12-01 (no
    // current copy of the vendor's own pricing page was at hand; README).
    ("deepseek-chat",          ProviderKind::DeepSeek,  0.28,  0.42, 0.028),
    ("deepseek-reasoner",      ProviderKind::DeepSeek,  0.28,  0.42, 0.028),
    ("qwen-plus",              ProviderKind::Qwen,      0.40,  1.20, 0.40),
    ("qwen-max",               ProviderKind::Qwen,      1.60,  6.40, 1.60),
    ("kimi-k2-0905-preview",   ProviderKind::Moonshot,  0.60,  2.50, 0.15),
    ("MiniMax-M2",             ProviderKind::MiniMax,   0.30,  1.20, 0.30),
];

/// Each built-in model's documented maximum output, in tokens: what a request
/// without `max_tokens` may produce, so what a prepaid reservation must cover.
/// Embedding models produce none. A `[[models]]` entry for one of these ids keeps it.
#[rustfmt::skip]
const MAX_OUTPUT: &[(&str, u64)] = &[
    ("gpt-6.2-sol", 128_000), ("gpt-6-luna", 128_000), ("gpt-5.6-luna", 128_000),
    ("gpt-5", 128_000), ("gpt-5-mini", 128_000), ("gpt-5-nano", 128_000),
    ("gpt-4.1", 32_768), ("gpt-4.1-mini", 32_768),
    ("gpt-4o", 16_384), ("gpt-4o-mini", 16_384), ("o3", 100_000), ("o4-mini", 100_000),
    ("gpt-3.5-turbo-instruct", 4_096),
    ("text-embedding-3-small", 0), ("text-embedding-3-large", 0),
    ("claude-opus-5-5", 128_000), ("claude-opus-5", 128_000), ("claude-sonnet-5-5", 128_000),
    ("claude-sonnet-5", 128_000), ("claude-fable-5-1", 128_000),
    ("claude-opus-4-1", 32_000), ("claude-sonnet-4-5", 64_000), ("claude-haiku-4-5", 64_000),
    ("gemini-2.5-pro", 65_536), ("gemini-2.5-flash", 65_536), ("gemini-2.5-flash-lite", 65_536),
    ("gemini-embedding-001", 0),
    ("deepseek-chat", 8_192), ("deepseek-reasoner", 64_000),
    ("qwen-plus", 32_768), ("qwen-max", 8_192),
    ("kimi-k2-0905-preview", 16_384), ("MiniMax-M2", 131_072),
];

fn max_output(id: &str) -> Option<u64> {
    MAX_OUTPUT.iter().find(|(m, _)| *m == id).map(|&(_, n)| n)
}

/// (alias, openai, anthropic, gemini). The smart alias's Anthropic target is
/// `claude-sonnet-5-5`: Anthropic's model page says `claude-sonnet-4-5` retired on
/// 2026-11-30 and names `claude-sonnet-5-5` as its replacement. `claude-sonnet-4-5`
/// itself stays in the catalog (and its dated snapshots resolve to it) for callers
/// that still name it.
const BUILT_IN_ALIASES: &[(&str, &str, &str, &str)] = &[
    (
        "tollgate-chat-smart",
        "gpt-4o",
        "claude-sonnet-5-5",
        "gemini-2.5-pro",
    ),
    (
        "tollgate-chat-fast",
        "gpt-4o-mini",
        "claude-haiku-4-5",
        "gemini-2.5-flash",
    ),
];

fn micro(usd_per_mtok: f64) -> u64 {
    // Built-in prices only (configured ones arrive in micro-units): finite, small.
    (usd_per_mtok * 1_000_000.0).round() as u64
}

/// The family a dated snapshot belongs to: `claude-sonnet-4-5-20250929`,
/// `gpt-4o-2024-08-06`, `gemini-2.5-flash-preview-05-20`, Gemini's newer
/// `gemini-2.5-flash-lite-preview-09-2025` (month, year) and `…-latest` lose
/// their date (and `-preview`) suffix. `None` when `id` has no such suffix.
pub fn snapshot_family(id: &str) -> Option<&str> {
    fn digits(s: &str, n: usize) -> bool {
        s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
    }
    let family = if let Some(family) = id.strip_suffix("-latest") {
        family
    } else {
        let (head, last) = id.rsplit_once('-')?;
        if digits(last, 8) {
            head
        } else if digits(last, 2) {
            let (head, month) = head.rsplit_once('-')?;
            if !digits(month, 2) {
                return None;
            }
            match head.rsplit_once('-') {
                Some((family, year)) if digits(year, 4) => family,
                _ => head.strip_suffix("-preview")?,
            }
        } else if digits(last, 4) {
            // `-preview-MM-YYYY`: only previews are named this way.
            let (head, month) = head.rsplit_once('-')?;
            if !digits(month, 2) {
                return None;
            }
            head.strip_suffix("-preview")?
        } else {
            return None;
        }
    };
    Some(family).filter(|f| !f.is_empty())
}

/// The list and model shapes `/v1/models` and Gemini's `models` speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListShape {
    /// `{"object":"list","data":[{"id","object":"model","created","owned_by"}]}`.
    OpenAi,
    /// `{"data":[{"type":"model","id","display_name","created_at"}],"has_more","first_id","last_id"}`.
    Anthropic,
    /// `{"models":[{"name":"models/…","displayName","supportedGenerationMethods",…}]}`.
    Gemini,
}

fn openai_model(id: &str, provider: Option<ProviderKind>) -> serde_json::Value {
    json!({
        "id": id,
        "object": "model",
        "created": 0,
        "owned_by": provider.map_or("tollgate", ProviderKind::as_str),
    })
}

fn anthropic_model(id: &str) -> serde_json::Value {
    json!({
        "type": "model",
        "id": id,
        "display_name": id,
        // The catalog keeps no release dates; the epoch says "unknown".
        "created_at": "1970-01-01T00:00:00Z",
    })
}

fn gemini_model(id: &str, max_output: Option<u64>) -> serde_json::Value {
    let embedding = id.contains("embedding");
    let methods: &[&str] = if embedding {
        &["embedContent", "batchEmbedContents"]
    } else {
        &["generateContent", "streamGenerateContent", "countTokens"]
    };
    let mut m = json!({
        "name": format!("models/{id}"),
        "baseModelId": id,
        "version": "",
        "displayName": id,
        "description": "",
        "supportedGenerationMethods": methods,
    });
    if let Some(n) = max_output.filter(|n| *n > 0) {
        m["outputTokenLimit"] = json!(n);
    }
    m
}

impl Catalog {
    /// One model in Gemini's shape (`GET /v1beta/models/{id}`); `None` if unknown.
    pub fn gemini_model(&self, id: &str) -> Option<serde_json::Value> {
        self.model_object(id, ListShape::Gemini)
    }

    /// Every model in Gemini's list shape (`GET /v1beta/models`).
    pub fn gemini_list(&self) -> serde_json::Value {
        serde_json::from_slice(&self.render_list_as(ListShape::Gemini, |_, _| true))
            .unwrap_or_default()
    }

    pub fn build(models: &[ModelSpec], aliases: &[AliasSpec]) -> Catalog {
        let mut by_id: Vec<Arc<ModelEntry>> = Vec::new();
        let mut upsert = |entry: ModelEntry| match by_id.iter_mut().find(|e| e.id == entry.id) {
            Some(slot) => *slot = Arc::new(entry),
            None => by_id.push(Arc::new(entry)),
        };
        for &(id, provider, i, o, c) in BUILT_IN {
            upsert(ModelEntry {
                id: id.into(),
                provider,
                input_micro_usd_per_mtok: micro(i),
                output_micro_usd_per_mtok: micro(o),
                cached_input_micro_usd_per_mtok: micro(c),
                max_output_tokens: max_output(id),
                fallbacks: Vec::new(),
            });
        }
        for &(id, provider, per_munit) in super::audio_models::AUDIO_MODELS {
            upsert(ModelEntry {
                id: id.into(),
                provider,
                input_micro_usd_per_mtok: micro(per_munit),
                output_micro_usd_per_mtok: 0,
                cached_input_micro_usd_per_mtok: 0,
                max_output_tokens: Some(0),
                fallbacks: Vec::new(),
            });
        }
        for m in models {
            upsert(ModelEntry {
                id: m.id.as_str().into(),
                provider: m.provider,
                input_micro_usd_per_mtok: m.input_micro_usd_per_mtok,
                output_micro_usd_per_mtok: m.output_micro_usd_per_mtok,
                cached_input_micro_usd_per_mtok: m.cached_input_micro_usd_per_mtok,
                max_output_tokens: max_output(&m.id),
                fallbacks: m.fallbacks.iter().map(|f| Arc::from(f.as_str())).collect(),
            });
        }

        let mut alias_list: Vec<(Arc<str>, Alias)> = BUILT_IN_ALIASES
            .iter()
            .map(|&(id, o, a, g)| {
                (
                    Arc::from(id),
                    Alias {
                        targets: vec![
                            (ProviderKind::OpenAi, o.into()),
                            (ProviderKind::Anthropic, a.into()),
                            (ProviderKind::Gemini, g.into()),
                        ],
                        fallbacks: Vec::new(),
                    },
                )
            })
            .collect();
        for a in aliases {
            let alias = Alias {
                targets: a
                    .targets
                    .iter()
                    .map(|(p, m)| (*p, Arc::from(m.as_str())))
                    .collect(),
                fallbacks: a.fallbacks.iter().map(|f| Arc::from(f.as_str())).collect(),
            };
            match alias_list.iter_mut().find(|(id, _)| **id == *a.id) {
                Some(slot) => slot.1 = alias,
                None => alias_list.push((a.id.as_str().into(), alias)),
            }
        }

        let order: Vec<(Arc<str>, Option<ProviderKind>)> = by_id
            .iter()
            .map(|m| (m.id.clone(), Some(m.provider)))
            .chain(alias_list.iter().map(|(id, _)| (id.clone(), None)))
            .collect();
        let mut catalog = Catalog {
            models: by_id.into_iter().map(|m| (m.id.clone(), m)).collect(),
            aliases: alias_list.into_iter().collect(),
            order,
            list_body: Bytes::new(),
        };
        catalog.list_body = catalog.render_list(|_, _| true);
        catalog
    }

    /// The `GET /v1/models` body, rendered once.
    pub fn list_body(&self) -> Bytes {
        self.list_body.clone()
    }

    /// The `/v1/models` body with only the models `allowed(provider, id)` accepts;
    /// an alias is listed if any of its targets is allowed.
    pub fn render_list(&self, allowed: impl Fn(ProviderKind, &str) -> bool) -> Bytes {
        self.render_list_as(ListShape::OpenAi, allowed)
    }

    /// The listed ids `allowed(provider, id)` accepts, in listing order.
    fn listed(
        &self,
        allowed: impl Fn(ProviderKind, &str) -> bool,
    ) -> Vec<(&Arc<str>, Option<ProviderKind>)> {
        self.order
            .iter()
            .filter(|(id, provider)| match provider {
                Some(p) => allowed(*p, id),
                None => self.aliases.get(id).is_some_and(|a| {
                    a.targets
                        .iter()
                        .any(|(p, m)| allowed(*p, m) || allowed(*p, id))
                }),
            })
            .map(|(id, p)| (id, *p))
            .collect()
    }

    /// The model list in `shape`, with only what `allowed` accepts.
    #[allow(
        clippy::expect_used,
        reason = "serializing a serde_json::Value to a Vec cannot fail"
    )]
    pub fn render_list_as(
        &self,
        shape: ListShape,
        allowed: impl Fn(ProviderKind, &str) -> bool,
    ) -> Bytes {
        let listed = self.listed(allowed);
        let body = match shape {
            ListShape::OpenAi => {
                let data: Vec<serde_json::Value> =
                    listed.iter().map(|(id, p)| openai_model(id, *p)).collect();
                json!({"object": "list", "data": data})
            }
            ListShape::Anthropic => {
                let data: Vec<serde_json::Value> =
                    listed.iter().map(|(id, _)| anthropic_model(id)).collect();
                json!({
                    "data": data,
                    "has_more": false,
                    "first_id": listed.first().map(|(id, _)| &***id),
                    "last_id": listed.last().map(|(id, _)| &***id),
                })
            }
            ListShape::Gemini => {
                let models: Vec<serde_json::Value> = listed
                    .iter()
                    .map(|(id, _)| gemini_model(id, self.max_output(id)))
                    .collect();
                json!({"models": models})
            }
        };
        Bytes::from(serde_json::to_vec(&body).expect("a JSON value always serializes"))
    }

    fn max_output(&self, id: &str) -> Option<u64> {
        self.models.get(id).and_then(|e| e.max_output_tokens)
    }

    /// The provider of a listed or resolvable id (`openai/gpt-4o-mini` too);
    /// `Some(None)` for an alias.
    fn known(&self, id: &str) -> Option<Option<ProviderKind>> {
        if self.aliases.contains_key(id) {
            return Some(None);
        }
        // A catalog model (or a dated snapshot of one). A `provider/model` the open
        // catalog forwards unpriced is usable, but not a model this gateway knows.
        self.resolve(id, |_| true)
            .filter(|r| r.entry.is_some())
            .map(|r| Some(r.provider))
    }

    /// `GET /v1/models/{id}` in `shape` (OpenAI or Anthropic); `None` if unknown.
    pub fn model_object(&self, id: &str, shape: ListShape) -> Option<serde_json::Value> {
        let provider = self.known(id)?;
        Some(match shape {
            ListShape::OpenAi => openai_model(id, provider),
            ListShape::Anthropic => anthropic_model(id),
            ListShape::Gemini => gemini_model(id, self.max_output(id)),
        })
    }

    pub fn get(&self, id: &str) -> Option<&Arc<ModelEntry>> {
        self.models.get(id)
    }

    /// The fallback model ids of a requested id: an alias's own, else those of the
    /// catalog model it names (plain or provider-prefixed). Empty when none.
    pub fn fallbacks(&self, requested: &str) -> &[Arc<str>] {
        if let Some(alias) = self.aliases.get(requested) {
            return &alias.fallbacks;
        }
        let id = match self.models.get(requested) {
            Some(_) => requested,
            None => requested
                .split_once('/')
                .map_or(requested, |(_, rest)| rest),
        };
        if let Some(alias) = self.aliases.get(id) {
            return &alias.fallbacks;
        }
        self.models.get(id).map_or(&[], |m| &m.fallbacks)
    }

    /// Resolves a requested id. `usable` says whether a provider can serve right now
    /// (it has credentials); an alias picks the first usable provider it names, in
    /// the order openai, anthropic, gemini, or else its first target.
    pub fn resolve(
        &self,
        requested: &str,
        usable: impl Fn(ProviderKind) -> bool,
    ) -> Option<Resolved> {
        if let Some(entry) = self.models.get(requested) {
            return Some(self.resolved(entry.provider, entry.id.clone()));
        }
        if let Some(alias) = self.aliases.get(requested) {
            let (provider, model) = alias
                .targets
                .iter()
                .find(|(p, _)| usable(*p))
                .or_else(|| alias.targets.first())?;
            return Some(self.resolved(*provider, model.clone()));
        }
        if let Some(entry) = snapshot_family(requested).and_then(|f| self.models.get(f)) {
            return Some(self.snapshot(entry, requested));
        }
        let (prefix, rest) = requested.split_once('/')?;
        let provider: ProviderKind = prefix.parse().ok()?;
        if rest.is_empty() {
            return None;
        }
        if let Some(entry) = self.models.get(rest)
            && entry.provider == provider
        {
            return Some(self.resolved(provider, entry.id.clone()));
        }
        if let Some(alias) = self.aliases.get(rest) {
            let (_, model) = alias.targets.iter().find(|(p, _)| *p == provider)?;
            return Some(self.resolved(provider, model.clone()));
        }
        if let Some(entry) = snapshot_family(rest)
            .and_then(|f| self.models.get(f))
            .filter(|e| e.provider == provider)
        {
            return Some(self.snapshot(entry, rest));
        }
        // The open catalog: a model the catalog does not know, on a provider the
        // gateway can reach, is forwarded as named (unpriced).
        usable(provider).then(|| Resolved {
            provider,
            upstream_model: rest.into(),
            entry: None,
        })
    }

    /// A dated snapshot of `family`: sent upstream by its own name, priced as the family.
    fn snapshot(&self, family: &Arc<ModelEntry>, requested: &str) -> Resolved {
        Resolved {
            provider: family.provider,
            upstream_model: requested.into(),
            entry: Some(family.clone()),
        }
    }

    fn resolved(&self, provider: ProviderKind, upstream_model: Arc<str>) -> Resolved {
        let entry = self
            .models
            .get(&upstream_model)
            .filter(|e| e.provider == provider)
            .cloned();
        Resolved {
            provider,
            upstream_model,
            entry,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::build(
            &[ModelSpec {
                id: "gpt-4o-mini".into(),
                provider: ProviderKind::OpenAi,
                input_micro_usd_per_mtok: 200_000,
                output_micro_usd_per_mtok: 800_000,
                cached_input_micro_usd_per_mtok: 200_000,
                fallbacks: vec!["claude-haiku-4-5".into()],
            }],
            &[AliasSpec {
                id: "house".into(),
                targets: vec![
                    (ProviderKind::Anthropic, "claude-haiku-4-5".into()),
                    (ProviderKind::Gemini, "gemini-2.5-flash".into()),
                ],
                fallbacks: vec!["gpt-4o-mini".into()],
            }],
        )
    }

    #[test]
    fn plain_and_prefixed_ids_resolve() {
        let c = catalog();
        let r = c.resolve("gpt-4o-mini", |_| true).unwrap();
        assert_eq!(r.provider, ProviderKind::OpenAi);
        assert_eq!(&*r.upstream_model, "gpt-4o-mini");
        assert_eq!(c.resolve("openai/gpt-4o-mini", |_| true), Some(r));
        assert!(c.resolve("nope", |_| true).is_none());
        assert!(c.resolve("azure/gpt-4o", |_| true).is_none());
    }

    #[test]
    fn provider_prefixed_unknown_models_are_forwarded_unpriced_when_the_provider_is_usable() {
        let c = catalog();
        let r = c.resolve("openai/gpt-9-turbo", |_| true).unwrap();
        assert_eq!(r.provider, ProviderKind::OpenAi);
        assert_eq!(&*r.upstream_model, "gpt-9-turbo");
        assert!(r.entry.is_none());
        assert!(
            c.resolve("openai/gpt-9-turbo", |p| p != ProviderKind::OpenAi)
                .is_none()
        );
        assert!(
            c.resolve("gpt-9-turbo", |_| true).is_none(),
            "bare ids stay closed"
        );
        assert!(c.resolve("openai/", |_| true).is_none());
    }

    #[test]
    fn dated_snapshots_resolve_to_their_family_price() {
        let c = catalog();
        for (snapshot, family) in [
            ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
            ("gpt-4o-2024-08-06", "gpt-4o"),
            ("gemini-2.5-flash-preview-05-20", "gemini-2.5-flash"),
            ("anthropic/claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ] {
            let r = c.resolve(snapshot, |_| true).unwrap();
            let bare = snapshot.split_once('/').map_or(snapshot, |(_, m)| m);
            assert_eq!(
                &*r.upstream_model, bare,
                "the snapshot goes upstream as named"
            );
            let entry = r.entry.unwrap();
            assert_eq!(&*entry.id, family);
            assert_eq!(r.provider, entry.provider);
        }
        assert_eq!(snapshot_family("gpt-4o"), None);
        assert_eq!(snapshot_family("gpt-4.1-mini"), None);
        assert_eq!(snapshot_family("o3-2025-04-16"), Some("o3"));
        assert!(c.resolve("claude-unknown-4-20250929", |_| true).is_none());
    }

    #[test]
    fn refreshed_families_resolve_their_dated_snapshots() {
        let c = catalog();
        // Snapshot ids as the providers' own pages list them (checked 2026-12-01).
        for (snapshot, family) in [
            ("gpt-5-mini-2025-08-07", "gpt-5-mini"),
            ("gpt-5-nano-2025-08-07", "gpt-5-nano"),
            (
                "gemini-2.5-flash-lite-preview-09-2025",
                "gemini-2.5-flash-lite",
            ),
            (
                "gemini/gemini-2.5-flash-lite-preview-09-2025",
                "gemini-2.5-flash-lite",
            ),
        ] {
            let r = c.resolve(snapshot, |_| true).expect(snapshot);
            let bare = snapshot.split_once('/').map_or(snapshot, |(_, m)| m);
            assert_eq!(&*r.upstream_model, bare);
            assert_eq!(&*r.entry.expect(snapshot).id, family, "{snapshot}");
        }
        // A four-digit tail is a date only as `-preview-MM-YYYY`.
        assert_eq!(snapshot_family("gpt-4-0613"), None);
        assert_eq!(snapshot_family("gemini-2.5-flash-09-2025"), None);
        assert_eq!(snapshot_family("gemini-2.5-flash-preview-9-2025"), None);
    }

    #[test]
    fn models_the_providers_shut_down_are_no_longer_built_in() {
        let c = catalog();
        for id in [
            "gpt-4.1-nano",
            "gpt-image-1",
            "dall-e-3",
            "text-embedding-004",
        ] {
            assert!(c.get(id).is_none(), "{id}");
            assert!(c.resolve(id, |_| true).is_none(), "{id}");
            assert!(c.model_object(id, ListShape::OpenAi).is_none(), "{id}");
        }
        assert!(c.resolve("gpt-4.1-nano-2025-04-14", |_| true).is_none());
        // Still reachable by name through the open catalog, unpriced.
        let r = c.resolve("openai/gpt-4.1-nano", |_| true).unwrap();
        assert!(r.entry.is_none());
        let listed: serde_json::Value = serde_json::from_slice(&c.list_body()).unwrap();
        assert!(
            listed["data"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["id"] != "gpt-4.1-nano" && m["id"] != "text-embedding-004")
        );
    }

    #[test]
    fn every_built_in_alias_target_is_a_priced_catalog_model() {
        let c = Catalog::build(&[], &[]);
        for &(alias, openai, anthropic, gemini) in BUILT_IN_ALIASES {
            for (provider, id) in [
                (ProviderKind::OpenAi, openai),
                (ProviderKind::Anthropic, anthropic),
                (ProviderKind::Gemini, gemini),
            ] {
                let e = c.get(id).unwrap_or_else(|| panic!("{alias}: {id}"));
                assert_eq!(e.provider, provider, "{alias}: {id}");
                assert!(e.input_micro_usd_per_mtok > 0, "{alias}: {id}");
                assert!(e.max_output_tokens.is_some_and(|n| n > 0), "{alias}: {id}");
            }
        }
    }

    #[test]
    fn config_overrides_built_in_price() {
        let c = catalog();
        let e = c.get("gpt-4o-mini").unwrap();
        assert_eq!(e.input_micro_usd_per_mtok, 200_000);
        assert_eq!(e.output_micro_usd_per_mtok, 800_000);
        assert_eq!(e.cached_input_micro_usd_per_mtok, 200_000);
    }

    #[test]
    fn alias_resolves_per_provider() {
        let c = catalog();
        let smart = c
            .resolve("tollgate-chat-smart", |p| p == ProviderKind::OpenAi)
            .unwrap();
        assert_eq!(&*smart.upstream_model, "gpt-4o");
        let smart = c
            .resolve("tollgate-chat-smart", |p| p == ProviderKind::Anthropic)
            .unwrap();
        assert_eq!(&*smart.upstream_model, "claude-sonnet-5-5");
        assert_eq!(smart.provider, ProviderKind::Anthropic);
        let pinned = c.resolve("gemini/tollgate-chat-smart", |_| true).unwrap();
        assert_eq!(&*pinned.upstream_model, "gemini-2.5-pro");
        // a config alias without an openai target falls through to the next provider
        let house = c.resolve("house", |_| true).unwrap();
        assert_eq!(house.provider, ProviderKind::Anthropic);
        assert!(c.resolve("openai/house", |_| true).is_none());
    }

    #[test]
    fn fallbacks_follow_models_and_aliases() {
        let c = catalog();
        assert_eq!(c.fallbacks("gpt-4o-mini"), [Arc::from("claude-haiku-4-5")]);
        assert_eq!(
            c.fallbacks("openai/gpt-4o-mini"),
            [Arc::from("claude-haiku-4-5")]
        );
        assert_eq!(c.fallbacks("house"), [Arc::from("gpt-4o-mini")]);
        assert!(c.fallbacks("gpt-4o").is_empty());
        assert!(c.fallbacks("nope").is_empty());
    }

    #[test]
    fn model_objects_and_other_list_shapes() {
        let c = catalog();
        let m = c
            .model_object("openai/gpt-4o-mini", ListShape::OpenAi)
            .unwrap();
        assert_eq!(m["id"], "openai/gpt-4o-mini");
        assert_eq!(m["owned_by"], "openai");
        assert!(c.model_object("nope", ListShape::OpenAi).is_none());
        let a: serde_json::Value =
            serde_json::from_slice(&c.render_list_as(ListShape::Anthropic, |_, _| true)).unwrap();
        assert_eq!(a["data"][0]["type"], "model");
        assert_eq!(a["first_id"], a["data"][0]["id"]);
        assert_eq!(a["has_more"], false);
        let g = c.gemini_list();
        let flash = g["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == "models/gemini-2.5-flash")
            .unwrap();
        assert_eq!(flash["supportedGenerationMethods"][0], "generateContent");
    }

    #[test]
    fn list_body_is_openai_list_shape() {
        let c = catalog();
        let v: serde_json::Value = serde_json::from_slice(&c.list_body()).unwrap();
        assert_eq!(v["object"], "list");
        let ids: Vec<&str> = v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert!(ids.contains(&"gpt-4o-mini"));
        assert!(ids.contains(&"house"));
        assert_eq!(ids.iter().filter(|i| **i == "gpt-4o-mini").count(), 1);
    }

    #[test]
    fn the_agent_clis_default_models_are_pinned_with_their_published_prices() {
        let c = catalog();
        // (id, provider, input, output, cached input) in micro-USD per Mtok.
        for (id, provider, prices) in [
            // Claude Code 2.1.332 (tests/agents): claude-opus-5-5.
            (
                "claude-opus-5-5",
                ProviderKind::Anthropic,
                (4_000_000, 20_000_000, 200_000),
            ),
            // Codex CLI 0.171.0 (tests/agents): gpt-6.2-sol.
            (
                "gpt-6.2-sol",
                ProviderKind::OpenAi,
                (2_000_000, 10_000_000, 100_000),
            ),
        ] {
            let r = c.resolve(id, |_| true).expect("a catalog model");
            assert_eq!(r.provider, provider, "{id}");
            let e = r.entry.expect("priced");
            assert_eq!(
                (
                    e.input_micro_usd_per_mtok,
                    e.output_micro_usd_per_mtok,
                    e.cached_input_micro_usd_per_mtok
                ),
                prices,
                "{id}"
            );
            assert_eq!(e.max_output_tokens, Some(128_000), "{id}");
        }
    }
}
