//! Circuit breakers through every transition, read from the events the
//! reference's publishers write: the state from the event type, the failure
//! count from `window_failure_count` (else `consecutive_failure_count`),
//! reset when the breaker closes, and the times from the events.

use crate::common::{Fixture, MINUTE, T0, ts};
use baldur_journal::projection::{
    BreakerEvent, BreakerTransition, CircuitBreakerInfo, CircuitBreakerSummary,
    StatisticsRepository,
};
use baldur_journal::{Context, JournalEntry};

fn summary(closed: u64, open: u64, half_open: u64) -> CircuitBreakerSummary {
    CircuitBreakerSummary {
        total: closed + open + half_open,
        closed,
        open,
        half_open,
    }
}

#[test]
fn every_transition() {
    let fixture = Fixture::new();
    let emit = |transition, window: Option<i64>, consecutive: Option<i64>| {
        let mut event = BreakerEvent::new(transition, "payments");
        event.window_failure_count = window;
        event.consecutive_failure_count = consecutive;
        fixture.append(event.to_entry(fixture.clock.now()));
        fixture.shift(MINUTE);
    };
    let info = || fixture.stats.list_circuit_breakers().unwrap().remove(0);
    let at = |minutes: i64| Some(ts(T0 + minutes * MINUTE));

    emit(BreakerTransition::Opened, Some(5), Some(3)); // minute 0
    assert_eq!(
        info(),
        CircuitBreakerInfo {
            service_name: "payments".into(),
            state: "open".into(),
            failure_count: 5,
            success_count: 0,
            last_failure_time: at(0),
            last_state_change: at(0),
        }
    );
    assert_eq!(
        fixture.stats.get_circuit_breaker_summary().unwrap(),
        summary(0, 1, 0)
    );

    emit(BreakerTransition::HalfOpened, None, None); // minute 1
    let now = info();
    assert_eq!((now.state.as_str(), now.failure_count), ("half_open", 5));
    assert_eq!(
        (now.last_failure_time, now.last_state_change),
        (at(0), at(1))
    );
    assert_eq!(
        fixture.stats.get_circuit_breaker_summary().unwrap(),
        summary(0, 0, 1)
    );

    emit(BreakerTransition::Opened, None, Some(2)); // minute 2: half-open probe failed
    let now = info();
    assert_eq!((now.state.as_str(), now.failure_count), ("open", 2));
    assert_eq!(
        (now.last_failure_time, now.last_state_change),
        (at(2), at(2))
    );

    emit(BreakerTransition::HalfOpened, None, None); // minute 3
    emit(BreakerTransition::Closed, None, None); // minute 4
    let now = info();
    assert_eq!((now.state.as_str(), now.failure_count), ("closed", 0));
    assert_eq!(
        (now.last_failure_time, now.last_state_change),
        (at(2), at(4))
    );
    assert_eq!(
        fixture.stats.get_circuit_breaker_summary().unwrap(),
        summary(1, 0, 0)
    );

    emit(BreakerTransition::Opened, Some(7), None); // minute 5: closed -> open again
    assert_eq!((info().state.as_str(), info().failure_count), ("open", 7));
}

#[test]
fn breakers_are_listed_by_name_and_counted_by_state() {
    let fixture = Fixture::new();
    for (transition, name) in [
        (BreakerTransition::Opened, "ship"),
        (BreakerTransition::Opened, "auth"),
        (BreakerTransition::HalfOpened, "auth"),
        (BreakerTransition::Closed, "mail"),
    ] {
        fixture.append(BreakerEvent::new(transition, name).to_entry(fixture.clock.now()));
    }
    let names: Vec<String> = fixture
        .stats
        .list_circuit_breakers()
        .unwrap()
        .into_iter()
        .map(|b| format!("{}={}", b.service_name, b.state))
        .collect();
    assert_eq!(names, ["auth=half_open", "mail=closed", "ship=open"]);
    assert_eq!(
        fixture.stats.get_circuit_breaker_summary().unwrap(),
        summary(1, 1, 1)
    );
}

#[test]
fn events_as_a_python_service_writes_them() {
    // The reference's subscriber: `service_name` also inside the context,
    // the timestamp as ISO text, `previous_state` and `new_state` keys.
    let fixture = Fixture::new();
    let python = |event_type: &str, service: &str, context: &str| {
        JournalEntry::new(event_type, "circuit_breaker", fixture.clock.now(), service)
            .with_context(Context::from_json(context).unwrap())
    };
    fixture.append(python(
        "circuit_breaker_opened",
        "billing",
        r#"{"service_name": "billing", "previous_state": "closed", "timestamp": "2025-01-01T00:00:00+00:00",
            "trigger": "failure_rate", "window_failure_count": 12, "window_total_calls": 20,
            "consecutive_failure_count": 4}"#,
    ));
    // An entry written without the field, the name only in the context.
    fixture.append(python(
        "circuit_breaker_half_opened",
        "",
        r#"{"service_name": "billing", "new_state": "half_open", "previous_state": "open"}"#,
    ));
    // Neither: the breaker is called "unknown".
    fixture.append(python(
        "circuit_breaker_closed",
        "",
        r#"{"new_state": "closed"}"#,
    ));
    let list = fixture.stats.list_circuit_breakers().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        (
            list[0].service_name.as_str(),
            list[0].state.as_str(),
            list[0].failure_count
        ),
        ("billing", "half_open", 12)
    );
    assert_eq!(
        (list[1].service_name.as_str(), list[1].state.as_str()),
        ("unknown", "closed")
    );
}
