//! Prometheus metrics of the node, served at `/metrics` in the format the scraper asks for.
//!
//! prometheus-client encodes OpenMetrics 1.0: a counter family is named without `_total` in
//! its `# HELP`/`# TYPE` lines (its samples carry the suffix) and the body ends in `# EOF`.
//! That body is only valid under OpenMetrics' own content type, so it is served only to a
//! scraper whose `Accept` names `application/openmetrics-text` (Prometheus does). Anyone else
//! gets the Prometheus text format 0.0.4, derived from it: counter families named as their
//! samples are, no `# UNIT` and no `# EOF`. `promtool check metrics` reads the latter.

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

pub struct Metrics {
    registry: Registry,
    pub height: Gauge,
    pub mempool_size: Gauge,
    /// Seconds from a block's timestamp (its proposal) to its finalization reaching the store.
    pub finalization_latency: Histogram,
    pub txs_accepted: Counter,
    pub txs_rejected: Family<ReasonLabel, Counter>,
    pub txs_finalized: Counter,
    /// The storage challenges' totals on the finalized chain (`State::storage_stats`).
    pub storage: StorageCounters,
}

/// Counters that follow `plexus_state::storage::StorageStats`: the chain's totals since genesis
/// (a restarted node jumps to them at its first finalized block).
#[derive(Clone, Default)]
pub struct StorageCounters {
    pub proofs_passed: Counter,
    pub proofs_missed: Counter,
    pub proofs_wrong: Counter,
    pub shards_lost: Counter,
    pub repairs_done: Counter,
}

impl StorageCounters {
    fn register(&self, registry: &mut Registry) {
        for (name, help, counter) in [
            (
                "storage_proofs_passed",
                "Storage challenges proven",
                &self.proofs_passed,
            ),
            (
                "storage_proofs_missed",
                "Storage challenges missed (not the excused ones)",
                &self.proofs_missed,
            ),
            (
                "storage_proofs_wrong",
                "Storage proofs that did not reach the commitment (collateral slashed)",
                &self.proofs_wrong,
            ),
            (
                "storage_shards_lost",
                "Storage shards declared lost",
                &self.shards_lost,
            ),
            (
                "storage_repairs_done",
                "Storage repairs accepted",
                &self.repairs_done,
            ),
        ] {
            registry.register(name, help, counter.clone());
        }
    }

    /// Moves every counter up to the finalized chain's total.
    pub fn follow(&self, stats: &plexus_state::storage::StorageStats) {
        for (counter, total) in [
            (&self.proofs_passed, stats.proofs_passed),
            (&self.proofs_missed, stats.proofs_missed),
            (&self.proofs_wrong, stats.proofs_wrong),
            (&self.shards_lost, stats.shards_lost),
            (&self.repairs_done, stats.repairs_done),
        ] {
            let now = counter.get();
            if total > now {
                counter.inc_by(total - now);
            }
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("plexus");
        let height = Gauge::default();
        registry.register("height", "Last finalized height", height.clone());
        let mempool_size = Gauge::default();
        registry.register(
            "mempool_size",
            "Transactions in the mempool",
            mempool_size.clone(),
        );
        let finalization_latency = Histogram::new([0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0]);
        registry.register(
            "finalization_latency_seconds",
            "Block proposal to finalization",
            finalization_latency.clone(),
        );
        let txs_accepted = Counter::default();
        registry.register(
            "txs_accepted",
            "Transactions admitted to the mempool",
            txs_accepted.clone(),
        );
        let txs_rejected = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "txs_rejected",
            "Transactions refused at submission, by reason code",
            txs_rejected.clone(),
        );
        let txs_finalized = Counter::default();
        registry.register(
            "txs_finalized",
            "Transactions in finalized blocks",
            txs_finalized.clone(),
        );
        let storage = StorageCounters::default();
        storage.register(&mut registry);
        Metrics {
            registry,
            height,
            mempool_size,
            finalization_latency,
            txs_accepted,
            txs_rejected,
            txs_finalized,
            storage,
        }
    }
}

impl Metrics {
    pub fn reject(&self, reason: &str) {
        self.txs_rejected
            .get_or_create(&ReasonLabel {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// The exposition in `format`.
    pub fn render(&self, format: Exposition) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        match format {
            Exposition::OpenMetrics => text,
            Exposition::Prometheus => prometheus_text(&text),
        }
    }
}

/// The two formats `/metrics` serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exposition {
    /// The Prometheus text format, version 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0.0 text.
    OpenMetrics,
}

impl Exposition {
    /// OpenMetrics if `accept` (an `Accept` header) names it, else the Prometheus text format.
    pub fn negotiate(accept: Option<&str>) -> Self {
        let wants_open_metrics = accept.is_some_and(|accept| {
            accept.split(',').any(|range| {
                let mut params = range.split(';').map(str::trim);
                params.next() == Some("application/openmetrics-text")
                    && !params.any(|p| p.replace(' ', "") == "q=0")
            })
        });
        if wants_open_metrics {
            Exposition::OpenMetrics
        } else {
            Exposition::Prometheus
        }
    }

    /// The `Content-Type` of a body in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Exposition::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Exposition::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The Prometheus text format of an OpenMetrics exposition of gauges, counters and histograms
/// (what `Metrics` registers): counter families take their samples' `_total` name, and the
/// lines that format does not have (`# UNIT`, `# EOF`) go.
fn prometheus_text(open_metrics: &str) -> String {
    let counters: std::collections::BTreeSet<&str> = open_metrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut text = String::with_capacity(open_metrics.len());
    for line in open_metrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let descriptor = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|prefix| Some((prefix, line.strip_prefix(prefix)?)));
        match descriptor {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let suffix = if counters.contains(name) {
                    "_total"
                } else {
                    ""
                };
                text.push_str(&format!("{prefix}{name}{suffix} {tail}"));
            }
            None => text.push_str(line),
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_open_metrics_only_when_asked() {
        let prometheus_default = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1";
        assert_eq!(
            Exposition::negotiate(Some(prometheus_default)),
            Exposition::OpenMetrics
        );
        for other in [
            None,
            Some("*/*"),
            Some("text/plain"),
            Some("application/openmetrics-text; q=0, text/plain"),
        ] {
            assert_eq!(
                Exposition::negotiate(other),
                Exposition::Prometheus,
                "{other:?}"
            );
        }
    }

    /// Each format is what its content type promises: OpenMetrics ends in `# EOF` and names
    /// counter families without `_total`; the 0.0.4 text names every family as its samples
    /// and has no `# EOF`. (The contract test runs promtool and an OpenMetrics parser on the
    /// node's real answers.)
    #[test]
    fn both_formats_name_counters_as_their_format_requires() {
        let metrics = Metrics::default();
        metrics.txs_accepted.inc();
        metrics.reject("bad_signature");
        metrics.finalization_latency.observe(0.2);
        let open = metrics.render(Exposition::OpenMetrics);
        assert!(open.ends_with("# EOF\n"), "{open}");
        assert!(
            open.contains("# TYPE plexus_txs_accepted counter\n"),
            "{open}"
        );
        assert!(open.contains("plexus_txs_accepted_total 1\n"), "{open}");
        let text = metrics.render(Exposition::Prometheus);
        assert!(!text.contains("# EOF"), "{text}");
        for family in [
            "plexus_txs_accepted_total",
            "plexus_txs_rejected_total",
            "plexus_txs_finalized_total",
        ] {
            assert!(
                text.contains(&format!("# TYPE {family} counter\n")),
                "{text}"
            );
            assert!(text.contains(&format!("# HELP {family} ")), "{text}");
        }
        assert!(
            text.contains("plexus_txs_rejected_total{reason=\"bad_signature\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE plexus_height gauge\n"), "{text}");
        assert!(
            text.contains("# TYPE plexus_finalization_latency_seconds histogram\n"),
            "{text}"
        );
        // Every sample line of one format is in the other: only descriptors differ.
        let samples = |body: &str| {
            body.lines()
                .filter(|l| !l.starts_with('#'))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(samples(&open), samples(&text));
    }

    /// The storage counters follow the chain's totals, never down, and are served.
    #[test]
    fn storage_counters_follow_the_chains_totals() {
        let metrics = Metrics::default();
        let mut stats = plexus_state::storage::StorageStats {
            proofs_passed: 5,
            proofs_missed: 2,
            proofs_wrong: 1,
            shards_lost: 1,
            ..Default::default()
        };
        metrics.storage.follow(&stats);
        stats.proofs_passed = 7;
        stats.repairs_done = 1;
        metrics.storage.follow(&stats);
        metrics.storage.follow(&stats);
        let text = metrics.render(Exposition::Prometheus);
        for line in [
            "plexus_storage_proofs_passed_total 7\n",
            "plexus_storage_proofs_missed_total 2\n",
            "plexus_storage_proofs_wrong_total 1\n",
            "plexus_storage_shards_lost_total 1\n",
            "plexus_storage_repairs_done_total 1\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }
}
