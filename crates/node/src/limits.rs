//! Per-client limits on the HTTP API: what one client (one IP address) can make the node do.
//!
//! Each client has a request budget (a token bucket), a budget of transaction bytes it may ask
//! the node to decode and check (the costly part of submission: key decompression, hashing,
//! signature verification), and a cap on requests in flight. Over any of them the node answers
//! 429 `rate_limited` with `Retry-After`, before doing the work. The global cap on requests at
//! once (`api::REQUESTS_CONCURRENT_MAX`) still holds for all clients together.
//!
//! The client table is bounded (`CLIENTS_MAX`): idle entries (nothing in flight, budgets
//! refilled) are dropped to make room, and a node whose table is full of active clients refuses
//! new ones with 503 until some go idle.

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use plexus_client::dto::ErrorBody;
use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::Instant,
};

/// Clients tracked at once.
pub const CLIENTS_MAX: usize = 16_384;

/// The budgets of one client.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LimitsConfig {
    /// Requests per second, sustained.
    pub requests_per_s: f64,
    /// Requests at once above the sustained rate.
    pub requests_burst: f64,
    /// Bytes of transactions (single or batch bodies) per second, sustained.
    pub tx_bytes_per_s: f64,
    /// At least the largest batch body, so one full batch always fits an idle budget.
    pub tx_bytes_burst: f64,
    /// Requests in flight at once.
    pub in_flight_max: u32,
}

impl Default for LimitsConfig {
    /// Generous for a person or an application (1 000 requests/s; about 13 000 transfers/s
    /// through batches), small against a node's capacity; a heavy sender runs its own node or
    /// raises these.
    fn default() -> Self {
        LimitsConfig {
            requests_per_s: 1_000.0,
            requests_burst: 2_000.0,
            tx_bytes_per_s: 2.0 * 1024.0 * 1024.0,
            tx_bytes_burst: 6.0 * 1024.0 * 1024.0,
            in_flight_max: 32,
        }
    }
}

/// A token bucket. Floats are fine here: this is local admission policy, not consensus.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    fn full(capacity: f64, now: Instant) -> Self {
        Bucket {
            tokens: capacity,
            updated: now,
        }
    }

    fn refill(&mut self, rate: f64, capacity: f64, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(capacity);
        self.updated = now;
    }

    /// Takes `cost` tokens, or says in how many whole seconds they will be there.
    fn take(&mut self, cost: f64, rate: f64, capacity: f64, now: Instant) -> Result<(), u64> {
        self.refill(rate, capacity, now);
        if self.tokens >= cost {
            self.tokens -= cost;
            return Ok(());
        }
        let wait_s = (cost.min(capacity) - self.tokens) / rate.max(f64::MIN_POSITIVE);
        Err((wait_s.ceil() as u64).max(1))
    }
}

struct Client {
    requests: Bucket,
    tx_bytes: Bucket,
    in_flight: u32,
}

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limited {
    /// Over a rate; budget back in this many seconds.
    Rate { retry_after_s: u64 },
    /// Too many requests of this client in flight.
    InFlight { max: u32 },
    /// The client table is full of active clients.
    Clients,
}

impl Limited {
    /// Status, JSON body and `Retry-After` seconds of the refusal.
    pub fn parts(self) -> (StatusCode, ErrorBody, u64) {
        let (status, code, message, retry_after_s) = match self {
            Limited::Rate { retry_after_s } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "this client is over its request or transaction budget; retry in {retry_after_s} s"
                ),
                retry_after_s,
            ),
            Limited::InFlight { max } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("this client already has {max} requests in flight"),
                1,
            ),
            Limited::Clients => (
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_clients",
                "the node is serving as many clients as it tracks".to_string(),
                1,
            ),
        };
        let body = ErrorBody {
            code: code.to_string(),
            message,
        };
        (status, body, retry_after_s)
    }
}

impl IntoResponse for Limited {
    fn into_response(self) -> Response {
        let (status, body, retry_after_s) = self.parts();
        let mut response = (status, axum::Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
        response
    }
}

/// Every client's budgets. `None` budgets (see [`ClientLimits::unlimited`]) admit everything.
pub struct ClientLimits {
    cfg: Option<LimitsConfig>,
    clients: Mutex<HashMap<IpAddr, Client>>,
}

/// The client a request came from (an extension the middleware adds).
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub IpAddr);

impl ClientLimits {
    pub fn new(cfg: LimitsConfig) -> Self {
        ClientLimits {
            cfg: Some(cfg),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// No per-client limits (benchmarks that drive a node from one client).
    pub fn unlimited() -> Self {
        ClientLimits {
            cfg: None,
            clients: Mutex::new(HashMap::new()),
        }
    }

    fn clients(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Client>> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Admits one request of `ip`: a request token and an in-flight slot, held until the
    /// returned guard drops.
    pub fn enter(self: &Arc<Self>, ip: IpAddr, now: Instant) -> Result<InFlight, Limited> {
        let Some(cfg) = self.cfg else {
            return Ok(InFlight { limits: None, ip });
        };
        let mut clients = self.clients();
        if !clients.contains_key(&ip) && clients.len() >= CLIENTS_MAX {
            clients.retain(|_, client| !client.idle(&cfg, now));
            if clients.len() >= CLIENTS_MAX {
                return Err(Limited::Clients);
            }
        }
        let client = clients.entry(ip).or_insert_with(|| Client {
            requests: Bucket::full(cfg.requests_burst, now),
            tx_bytes: Bucket::full(cfg.tx_bytes_burst, now),
            in_flight: 0,
        });
        if client.in_flight >= cfg.in_flight_max {
            return Err(Limited::InFlight {
                max: cfg.in_flight_max,
            });
        }
        client
            .requests
            .take(1.0, cfg.requests_per_s, cfg.requests_burst, now)
            .map_err(|retry_after_s| Limited::Rate { retry_after_s })?;
        client.in_flight += 1;
        Ok(InFlight {
            limits: Some(self.clone()),
            ip,
        })
    }

    /// Charges `bytes` of transactions to `ip` before the node decodes and checks them.
    pub fn charge_tx_bytes(&self, ip: IpAddr, bytes: usize, now: Instant) -> Result<(), Limited> {
        let Some(cfg) = self.cfg else {
            return Ok(());
        };
        let mut clients = self.clients();
        let Some(client) = clients.get_mut(&ip) else {
            // Entered through `enter`, so present; a request that bypassed it is not charged.
            return Ok(());
        };
        client
            .tx_bytes
            .take(bytes as f64, cfg.tx_bytes_per_s, cfg.tx_bytes_burst, now)
            .map_err(|retry_after_s| Limited::Rate { retry_after_s })
    }

    fn leave(&self, ip: IpAddr) {
        if let Some(client) = self.clients().get_mut(&ip) {
            client.in_flight = client.in_flight.saturating_sub(1);
        }
    }

    /// Clients tracked now.
    pub fn tracked(&self) -> usize {
        self.clients().len()
    }
}

impl Client {
    /// Nothing in flight and both budgets refilled: forgetting it changes nothing.
    fn idle(&mut self, cfg: &LimitsConfig, now: Instant) -> bool {
        self.requests
            .refill(cfg.requests_per_s, cfg.requests_burst, now);
        self.tx_bytes
            .refill(cfg.tx_bytes_per_s, cfg.tx_bytes_burst, now);
        self.in_flight == 0
            && self.requests.tokens >= cfg.requests_burst
            && self.tx_bytes.tokens >= cfg.tx_bytes_burst
    }
}

/// A request in flight; dropping it frees the client's slot.
pub struct InFlight {
    limits: Option<Arc<ClientLimits>>,
    ip: IpAddr,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(limits) = &self.limits {
            limits.leave(self.ip);
        }
    }
}

/// The middleware: admits the request against its client's budgets (the peer address from
/// `ConnectInfo`; a request without one, as in-process tests make, is not limited) and tells
/// the handler who the client is.
pub async fn middleware(
    State(limits): State<Arc<ClientLimits>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(ip) = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
    else {
        return next.run(request).await;
    };
    match limits.enter(ip, Instant::now()) {
        Ok(in_flight) => {
            request.extensions_mut().insert(ClientIp(ip));
            let response = next.run(request).await;
            drop(in_flight);
            response
        }
        Err(limited) => limited.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn small() -> LimitsConfig {
        LimitsConfig {
            requests_per_s: 10.0,
            requests_burst: 20.0,
            tx_bytes_per_s: 1_000.0,
            tx_bytes_burst: 3_000.0,
            in_flight_max: 2,
        }
    }

    #[test]
    fn requests_over_the_burst_wait_for_the_rate() {
        let limits = Arc::new(ClientLimits::new(small()));
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let now = Instant::now();
        for _ in 0..20 {
            drop(limits.enter(a, now).unwrap());
        }
        assert_eq!(
            limits.enter(a, now).err(),
            Some(Limited::Rate { retry_after_s: 1 })
        );
        // Another client is not affected.
        assert!(limits.enter(b, now).is_ok());
        // A tenth of a second buys one more request.
        assert!(limits.enter(a, now + Duration::from_millis(100)).is_ok());
    }

    #[test]
    fn in_flight_requests_are_capped_and_freed() {
        let limits = Arc::new(ClientLimits::new(small()));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let now = Instant::now();
        let first = limits.enter(ip, now).unwrap();
        let _second = limits.enter(ip, now).unwrap();
        assert_eq!(
            limits.enter(ip, now).err(),
            Some(Limited::InFlight { max: 2 })
        );
        drop(first);
        assert!(limits.enter(ip, now).is_ok());
    }

    #[test]
    fn transaction_bytes_are_charged_and_say_when_to_come_back() {
        let limits = Arc::new(ClientLimits::new(small()));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let now = Instant::now();
        let _in = limits.enter(ip, now).unwrap();
        limits.charge_tx_bytes(ip, 3_000, now).unwrap();
        // 2 500 more bytes at 1 000 per second: back in 3 s.
        assert_eq!(
            limits.charge_tx_bytes(ip, 2_500, now),
            Err(Limited::Rate { retry_after_s: 3 })
        );
        assert!(
            limits
                .charge_tx_bytes(ip, 2_500, now + Duration::from_secs(3))
                .is_ok()
        );
    }

    #[test]
    fn the_table_is_bounded_and_forgets_idle_clients() {
        let limits = Arc::new(ClientLimits::new(small()));
        let now = Instant::now();
        let held: Vec<_> = (0..CLIENTS_MAX as u32)
            .map(|i| limits.enter(IpAddr::from(i.to_be_bytes()), now).unwrap())
            .collect();
        let newcomer: IpAddr = "200.0.0.1".parse().unwrap();
        // Every tracked client has a request in flight: no room.
        assert_eq!(limits.enter(newcomer, now).err(), Some(Limited::Clients));
        drop(held);
        // Once they are idle (budgets refilled), they make room.
        assert!(limits.enter(newcomer, now + Duration::from_secs(5)).is_ok());
        assert!(limits.tracked() <= CLIENTS_MAX);
    }

    #[test]
    fn unlimited_admits_everything() {
        let limits = Arc::new(ClientLimits::unlimited());
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let now = Instant::now();
        let held: Vec<_> = (0..10_000)
            .map(|_| limits.enter(ip, now).unwrap())
            .collect();
        assert_eq!(held.len(), 10_000);
        assert!(limits.charge_tx_bytes(ip, usize::MAX, now).is_ok());
        assert_eq!(limits.tracked(), 0);
    }
}
