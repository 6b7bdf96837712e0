//! Prometheus metrics of the node, served at `/metrics`.

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
        Metrics {
            registry,
            height,
            mempool_size,
            finalization_latency,
            txs_accepted,
            txs_rejected,
            txs_finalized,
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

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}
