//! Prometheus metrics of ghproxy: requests per caller and token by cache mode, the rate limit
//! they spent or saved, each token's remaining budget as GitHub reports it, and throttling.
//!
//! Tokens appear only as [`crate::decide::token_identity`] hashes, callers as the product
//! of their `User-Agent`.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::decide::CacheMode;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    caller: String,
    token: String,
    mode: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallerLabels {
    caller: String,
    token: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BudgetLabels {
    token: String,
    /// GitHub's `X-RateLimit-Resource` (`core`, `search`, `graphql`, ...).
    resource: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    token: String,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    spent: Family<CallerLabels, Counter>,
    saved: Family<CallerLabels, Counter>,
    remaining: Family<BudgetLabels, Gauge>,
    limit: Family<BudgetLabels, Gauge>,
    throttled_seconds: Family<TokenLabels, Counter<f64, AtomicU64>>,
    invalidated: Counter,
    errors: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "ghproxy_requests",
            "Requests by caller (User-Agent product), token hash and cache mode",
            requests.clone(),
        );
        let spent = Family::<CallerLabels, Counter>::default();
        registry.register(
            "ghproxy_rate_limit_spent",
            "Requests GitHub counted against the token's rate limit (anything but a 304)",
            spent.clone(),
        );
        let saved = Family::<CallerLabels, Counter>::default();
        registry.register(
            "ghproxy_rate_limit_saved",
            "Reads answered from the cache after a 304, which GitHub does not count",
            saved.clone(),
        );
        let remaining = Family::<BudgetLabels, Gauge>::default();
        registry.register(
            "ghproxy_rate_limit_remaining",
            "X-RateLimit-Remaining of the token's last answer from GitHub",
            remaining.clone(),
        );
        let limit = Family::<BudgetLabels, Gauge>::default();
        registry.register(
            "ghproxy_rate_limit_limit",
            "X-RateLimit-Limit of the token's last answer from GitHub",
            limit.clone(),
        );
        let throttled_seconds = Family::<TokenLabels, Counter<f64, AtomicU64>>::default();
        registry.register(
            "ghproxy_throttled_seconds",
            "Time the token's requests waited for their throttling slot",
            throttled_seconds.clone(),
        );
        let invalidated = Counter::default();
        registry.register(
            "ghproxy_cache_invalidated",
            "Cached reads dropped because a mutation changed them",
            invalidated.clone(),
        );
        let errors = Counter::default();
        registry.register(
            "ghproxy_upstream_errors",
            "Requests that got no answer from GitHub (connection failures, timeouts)",
            errors.clone(),
        );
        Self {
            registry,
            requests,
            spent,
            saved,
            remaining,
            limit,
            throttled_seconds,
            invalidated,
            errors,
        }
    }
}

impl Metrics {
    /// Counts one request GitHub answered.
    pub fn request(&self, caller: &str, token: &str, mode: CacheMode) {
        self.requests
            .get_or_create(&RequestLabels {
                caller: caller.to_owned(),
                token: token.to_owned(),
                mode: mode.as_str(),
            })
            .inc();
        let labels = CallerLabels {
            caller: caller.to_owned(),
            token: token.to_owned(),
        };
        if mode.is_free() {
            self.saved.get_or_create(&labels).inc();
        } else {
            self.spent.get_or_create(&labels).inc();
        }
    }

    /// Records the budget GitHub reported for `token` (its `X-RateLimit-*` headers).
    pub fn budget(&self, token: &str, resource: &str, remaining: i64, limit: Option<i64>) {
        let labels = BudgetLabels {
            token: token.to_owned(),
            resource: resource.to_owned(),
        };
        self.remaining.get_or_create(&labels).set(remaining);
        if let Some(limit) = limit {
            self.limit.get_or_create(&labels).set(limit);
        }
    }

    pub fn throttled(&self, token: &str, waited: std::time::Duration) {
        self.throttled_seconds
            .get_or_create(&TokenLabels {
                token: token.to_owned(),
            })
            .inc_by(waited.as_secs_f64());
    }

    pub fn invalidated(&self, entries: usize) {
        self.invalidated
            .inc_by(u64::try_from(entries).unwrap_or(u64::MAX));
    }

    pub fn upstream_error(&self) {
        self.errors.inc();
    }

    /// OpenMetrics text exposition.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        prow_runtime::encode_metrics(&self.registry)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rendered_text_splits_spent_and_saved_budget_per_caller_and_token() {
        let metrics = Metrics::default();
        metrics.request("prow-trigger", "abc", CacheMode::Miss);
        metrics.request("prow-trigger", "abc", CacheMode::Revalidated);
        metrics.request("prow-trigger", "abc", CacheMode::Revalidated);
        metrics.budget("abc", "core", 4990, Some(5000));
        metrics.invalidated(3);
        let text = metrics.render().unwrap();
        for line in [
            r#"ghproxy_requests_total{caller="prow-trigger",token="abc",mode="REVALIDATED"} 2"#,
            r#"ghproxy_rate_limit_spent_total{caller="prow-trigger",token="abc"} 1"#,
            r#"ghproxy_rate_limit_saved_total{caller="prow-trigger",token="abc"} 2"#,
            r#"ghproxy_rate_limit_remaining{token="abc",resource="core"} 4990"#,
            r#"ghproxy_rate_limit_limit{token="abc",resource="core"} 5000"#,
            "ghproxy_cache_invalidated_total 3",
        ] {
            assert!(text.contains(line), "{line} not in {text}");
        }
    }
}
