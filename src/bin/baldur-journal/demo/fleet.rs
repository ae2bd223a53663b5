//! The demo's event stream: the seven kinds of events the reference's
//! journal subscriber records (docs/EVENTS.md), with the context
//! keys its publishers send, from a small simulated fleet: circuit
//! breakers per service and region that open, half-open and close; error
//! budgets that warn, go critical and recover; emergency levels that
//! escalate and de-escalate. Breakers trip during incidents: each service
//! has a few hours of trouble every few days (more often the more it
//! trips), and between them its breakers only recover. Deterministic for
//! a given seed.

use baldur_journal::{Context, JournalEntry, Timestamp};

const SERVICES: [(&str, &str, u32); 12] = [
    // name, tier, how often its breakers trip (relative)
    ("payments", "tier-1", 9),
    ("checkout", "tier-1", 7),
    ("orders", "tier-1", 6),
    ("auth", "tier-1", 3),
    ("inventory", "tier-2", 5),
    ("shipping", "tier-2", 4),
    ("pricing", "tier-2", 4),
    ("billing", "tier-2", 3),
    ("search", "tier-3", 5),
    ("recommendations", "tier-3", 6),
    ("notifications", "tier-3", 4),
    ("catalog", "tier-3", 2),
];
const REGIONS: [&str; 3] = ["eu-west-1", "us-east-1", "ap-southeast-2"];
const TRIGGERS: [&str; 3] = [
    "failure_rate_threshold",
    "consecutive_failures",
    "slow_call_rate_threshold",
];
const NAMESPACES: [&str; 3] = ["dlq", "retry", "ingest"];
const LEVELS: [&str; 4] = ["normal", "level_1", "level_2", "level_3"];
const OPERATORS: [&str; 3] = ["oncall:alice", "oncall:bob", "oncall:chen"];

#[derive(Clone, Copy, PartialEq)]
enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Clone, Copy, PartialEq)]
enum Budget {
    Healthy,
    Warning,
    Critical,
}

/// xorshift64*: small, fast, reproducible.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// An index into a slice of `len` items (the same draw as `below`).
    pub fn index(&mut self, len: usize) -> usize {
        usize::try_from(self.below(len as u64)).expect("below len, a usize")
    }
    /// Uniform in (0, 1].
    pub fn unit(&mut self) -> f64 {
        ((self.next() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() <= p
    }
    pub fn between(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }
}

pub struct Simulation {
    rng: Rng,
    now_ns: i64,
    mean_gap_ns: f64,
    breakers: Vec<BreakerState>,
    budgets: Vec<Budget>,
    levels: Vec<usize>,
    breaker_weight_total: u64,
    /// Each service's current or next incident: its start and end.
    incidents: Vec<(i64, i64)>,
}

/// Mean days between a weight-1 service's incidents (a service of weight
/// w has one every `INCIDENT_GAP_DAYS / w` days on average).
const INCIDENT_GAP_DAYS: f64 = 24.0;
/// Mean hours an incident lasts (at least half an hour).
const INCIDENT_HOURS: f64 = 3.0;

impl Simulation {
    /// Events from `start`, `mean_gap_ns` apart on average (more by day,
    /// fewer by night).
    pub fn new(seed: u64, start: Timestamp, mean_gap_ns: f64) -> Self {
        Simulation {
            rng: Rng(seed | 1),
            now_ns: start.as_unix_nanos(),
            mean_gap_ns,
            breakers: vec![BreakerState::Closed; SERVICES.len() * REGIONS.len()],
            budgets: vec![Budget::Healthy; SERVICES.len()],
            levels: vec![0; NAMESPACES.len()],
            breaker_weight_total: SERVICES.iter().map(|s| u64::from(s.2)).sum::<u64>()
                * REGIONS.len() as u64,
            // Before the start: the first incident is scheduled on first use.
            incidents: vec![(start.as_unix_nanos(), start.as_unix_nanos()); SERVICES.len()],
        }
    }

    /// Whether `service` is in an incident now (scheduling the next ones
    /// as time passes).
    #[expect(
        clippy::cast_possible_truncation,
        reason = "simulated gaps and durations of hours, in nanoseconds: far inside i64"
    )]
    fn in_incident(&mut self, service: usize) -> bool {
        let now = self.now_ns;
        let (mut start, mut end) = self.incidents[service];
        while now >= end {
            let day_ns = 86_400e9;
            let mean_gap = INCIDENT_GAP_DAYS / f64::from(SERVICES[service].2) * day_ns;
            start = end + (-self.rng.unit().ln() * mean_gap) as i64;
            let hours = (-self.rng.unit().ln() * INCIDENT_HOURS).max(0.5);
            end = start + (hours * 3_600e9) as i64;
        }
        self.incidents[service] = (start, end);
        now >= start
    }

    pub fn now(&self) -> Timestamp {
        Timestamp::from_unix_nanos(self.now_ns)
    }

    fn advance(&mut self) {
        // Daily load curve: busiest at 14:00 UTC, quietest at 02:00.
        let day_ns = 86_400e9;
        let phase = (self.now_ns.rem_euclid(86_400_000_000_000) as f64 / day_ns - 14.0 / 24.0)
            * std::f64::consts::TAU;
        let load = 1.0 + 0.6 * phase.cos();
        let gap = -self.rng.unit().ln() * self.mean_gap_ns / load;
        // Microsecond resolution, as Python's datetimes have.
        #[expect(
            clippy::cast_possible_truncation,
            reason = "a gap of microseconds, at least 1; `as` saturates, never wraps"
        )]
        let gap_us = (gap / 1e3).max(1.0) as i64;
        self.now_ns = self.now_ns.saturating_add(gap_us * 1_000);
    }

    pub fn next_event(&mut self) -> JournalEntry {
        self.advance();
        let roll = self.rng.below(1000);
        if roll < 850 {
            self.breaker_event()
        } else if roll < 990 {
            self.budget_event()
        } else {
            self.emergency_event()
        }
    }

    fn entry(
        &self,
        event_type: &str,
        source: &str,
        service: &str,
        context: String,
    ) -> JournalEntry {
        JournalEntry::new(event_type, source, self.now(), service)
            .with_context(Context::from_json(&context).expect("the simulation writes valid JSON"))
    }

    fn breaker_event(&mut self) -> JournalEntry {
        let mut pick = self.rng.below(self.breaker_weight_total);
        let mut index = 0;
        for (i, (_, _, weight)) in SERVICES.iter().enumerate() {
            let span = u64::from(*weight) * REGIONS.len() as u64;
            if pick < span {
                let region =
                    usize::try_from(pick / u64::from(*weight)).expect("below REGIONS.len()");
                index = i * REGIONS.len() + region;
                break;
            }
            pick -= span;
        }
        // Outside an incident a closed breaker stays closed: the event is
        // an error budget's instead.
        if self.breakers[index] == BreakerState::Closed && !self.in_incident(index / REGIONS.len())
        {
            return self.budget_event();
        }
        let (service, tier, _) = SERVICES[index / REGIONS.len()];
        let region = REGIONS[index % REGIONS.len()];
        let head =
            format!(r#"{{"service_name":"{service}","region":"{region}","tier_id":"{tier}""#);
        let (event_type, context) = match self.breakers[index] {
            BreakerState::Closed => {
                self.breakers[index] = BreakerState::Open;
                (
                    "circuit_breaker_opened",
                    self.opened_context(&head, "closed"),
                )
            }
            BreakerState::Open => {
                self.breakers[index] = BreakerState::HalfOpen;
                (
                    "circuit_breaker_half_opened",
                    format!(r#"{head},"new_state":"half_open","previous_state":"open"}}"#),
                )
            }
            BreakerState::HalfOpen if self.rng.chance(0.3) => {
                self.breakers[index] = BreakerState::Open;
                (
                    "circuit_breaker_opened",
                    self.opened_context(&head, "half_open"),
                )
            }
            BreakerState::HalfOpen => {
                self.breakers[index] = BreakerState::Closed;
                (
                    "circuit_breaker_closed",
                    format!(r#"{head},"new_state":"closed","previous_state":"half_open"}}"#),
                )
            }
        };
        self.entry(event_type, "circuit_breaker", service, context)
            .with_region(region)
            .with_tier_id(tier)
    }

    fn opened_context(&mut self, head: &str, previous: &str) -> String {
        let trigger = if previous == "half_open" {
            "half_open_probe_failed"
        } else {
            TRIGGERS[self.rng.index(TRIGGERS.len())]
        };
        let total = 20 + self.rng.below(480);
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "between half and 95% of `total` (20..500): positive and small"
        )]
        let failures = (total as f64 * self.rng.between(0.5, 0.95)) as u64;
        let consecutive = 5 + self.rng.below(failures.clamp(1, 30));
        format!(
            r#"{head},"previous_state":"{previous}","timestamp":"{}","trigger":"{trigger}","window_failure_count":{failures},"window_total_calls":{total},"consecutive_failure_count":{consecutive}}}"#,
            python_isoformat(self.now())
        )
    }

    fn budget_event(&mut self) -> JournalEntry {
        let index = self.rng.index(self.budgets.len());
        let (event_type, percent, threshold) = match self.budgets[index] {
            Budget::Healthy => {
                self.budgets[index] = Budget::Warning;
                ("error_budget_warning", self.rng.between(10.0, 25.0), 25.0)
            }
            Budget::Warning if self.rng.chance(0.4) => {
                self.budgets[index] = Budget::Critical;
                ("error_budget_critical", self.rng.between(0.0, 10.0), 10.0)
            }
            Budget::Warning | Budget::Critical => {
                self.budgets[index] = Budget::Healthy;
                ("error_budget_recovered", self.rng.between(25.0, 60.0), 25.0)
            }
        };
        let context = format!(r#"{{"budget_percent":{percent:.2},"threshold":{threshold:.1}}}"#);
        self.entry(event_type, "error_budget_monitor", "", context)
    }

    fn emergency_event(&mut self) -> JournalEntry {
        let index = self.rng.index(NAMESPACES.len());
        let previous = self.levels[index];
        let escalate = previous == 0 || (previous < 3 && self.rng.chance(0.45));
        let level = if escalate { previous + 1 } else { previous - 1 };
        self.levels[index] = level;
        let (reason, by) = if escalate {
            match self.rng.below(3) {
                0 => ("error budget critical", "auto".to_string()),
                1 => ("circuit breaker storm", "auto".to_string()),
                _ => (
                    "manual escalation",
                    OPERATORS[self.rng.index(3)].to_string(),
                ),
            }
        } else {
            ("conditions recovered", "auto".to_string())
        };
        let context = format!(
            r#"{{"namespace":"{}","scope":"namespace","level":"{}","previous_level":"{}","reason":"{reason}","activated_by":"{by}","is_active":{},"is_escalation":{escalate}}}"#,
            NAMESPACES[index],
            LEVELS[level],
            LEVELS[previous],
            level > 0,
        );
        self.entry("emergency_level_changed", "emergency_manager", "", context)
    }
}

/// Python's `datetime.isoformat()` of an aware UTC time:
/// `2025-01-01T00:00:00.123456+00:00` (no fraction when it is zero).
fn python_isoformat(ts: Timestamp) -> String {
    let text = ts.to_string();
    let text = text.trim_end_matches('Z');
    match text.split_once('.') {
        Some((seconds, fraction)) => format!("{seconds}.{:0<6.6}+00:00", fraction),
        None => format!("{text}+00:00"),
    }
}
