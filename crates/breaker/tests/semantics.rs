//! Every rule of the state machine, driven by a fake clock (no sleeping).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use wedsync_breaker::{
    BreakerConfig, BreakerConfigBuilder, CallError, CircuitBreaker, Classifier, EventKind,
    FakeClock, HalfOpenTimeout, OpenDuration, Outcome, Registry, SharedChange, SharedChangeKind,
    SlidingWindow, State, WeddingDay,
};

const MS: Duration = Duration::from_millis(1);
const S: Duration = Duration::from_secs(1);

fn cb(cfg: BreakerConfigBuilder) -> (CircuitBreaker, FakeClock) {
    let clock = FakeClock::new();
    let b = CircuitBreaker::builder("svc")
        .config(cfg.build().unwrap())
        .clock(Arc::new(clock.clone()))
        .build();
    (b, clock)
}

fn count(n: u32, min: u32, thr: f32) -> BreakerConfigBuilder {
    BreakerConfig::builder()
        .sliding_window(SlidingWindow::Count(n))
        .minimum_calls(min)
        .failure_rate_threshold(thr)
        .wait_duration_in_open(10 * S)
}

fn rec(b: &CircuitBreaker, o: Outcome) -> bool {
    match b.try_acquire() {
        Ok(p) => {
            p.record(o);
            true
        }
        Err(_) => false,
    }
}

fn events(b: &CircuitBreaker) -> Arc<Mutex<Vec<EventKind>>> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = Arc::clone(&log);
    b.subscribe(move |e| l.lock().unwrap().push(e.kind));
    log
}

fn transitions(log: &Mutex<Vec<EventKind>>) -> Vec<(State, State)> {
    log.lock()
        .unwrap()
        .iter()
        .filter_map(|k| match k {
            EventKind::Transition { from, to } => Some((*from, *to)),
            _ => None,
        })
        .collect()
}

use Outcome::{Failure as F, Ignored as I, Success as K};

#[test]
fn count_window_evicts_the_oldest_outcome() {
    let (b, _) = cb(count(4, 4, 50.0));
    for o in [F, K, K, K] {
        rec(&b, o);
    }
    assert_eq!(b.metrics().failure_rate, Some(25.0));
    rec(&b, K); // evicts the failure
    let m = b.metrics();
    assert_eq!((m.buffered_calls, m.failed_calls), (4, 0));
    assert_eq!(m.failure_rate, Some(0.0));
    rec(&b, F);
    assert_eq!(b.state(), State::Closed);
    rec(&b, F); // K K F F = 50 %
    assert_eq!(b.state(), State::Open);
}

#[test]
fn time_window_evicts_whole_seconds() {
    let (b, clock) = cb(BreakerConfig::builder()
        .sliding_window(SlidingWindow::Time(3))
        .minimum_calls(2)
        .failure_rate_threshold(60.0));
    rec(&b, F); // t = 0.0, second 0
    clock.set(500 * MS);
    rec(&b, K); // second 0: 1/2 = 50 % < 60 %
    clock.set(2999 * MS);
    rec(&b, K); // second 2: window {0, 1, 2}
    assert_eq!(b.metrics().buffered_calls, 3);
    clock.set(3000 * MS);
    // Second 3: second 0 (F and K) has left, as a whole.
    let m = b.metrics();
    assert_eq!((m.buffered_calls, m.failed_calls), (1, 0));
    assert_eq!(m.failure_rate, None, "below the minimum of 2");
    rec(&b, F); // {K@2, F@3} = 50 %
    assert_eq!(b.state(), State::Closed);
    clock.set(3500 * MS);
    rec(&b, F); // 2/3 = 66.7 %
    assert_eq!(b.state(), State::Open);
}

#[test]
fn no_rate_and_no_trip_below_the_minimum() {
    let (b, _) = cb(count(10, 5, 50.0));
    for _ in 0..4 {
        rec(&b, F);
    }
    let m = b.metrics();
    assert_eq!(m.failure_rate, None);
    assert_eq!(m.slow_call_rate, None);
    assert_eq!((m.buffered_calls, m.failed_calls), (4, 4));
    assert_eq!(b.state(), State::Closed);
    rec(&b, F);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn thresholds_are_inclusive_at_the_boundary() {
    let (b, _) = cb(count(10, 10, 50.0));
    for o in [F, F, F, F, F, K, K, K, K] {
        rec(&b, o);
    }
    assert_eq!(b.state(), State::Closed);
    rec(&b, K); // exactly 50 %
    assert_eq!(b.state(), State::Open);

    let (b, _) = cb(count(10, 10, 50.0));
    for o in [F, F, F, F, K, K, K, K, K, K] {
        rec(&b, o);
    }
    assert_eq!(b.metrics().failure_rate, Some(40.0));
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn rates_are_evaluated_after_successes_too() {
    // Polly/gobreaker would stay closed: the last outcome is a success.
    let (b, _) = cb(count(10, 4, 50.0));
    for o in [F, F, F] {
        rec(&b, o);
    }
    assert_eq!(b.state(), State::Closed);
    rec(&b, K);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn slow_calls_are_strictly_longer_than_the_threshold_and_trip_alone() {
    let (b, clock) = cb(count(4, 4, 50.0)
        .slow_call_duration_threshold(100 * MS)
        .slow_call_rate_threshold(50.0));
    // Exactly the threshold is not slow.
    for _ in 0..3 {
        let p = b.try_acquire().unwrap();
        clock.advance(100 * MS);
        p.success();
    }
    assert_eq!(b.metrics().slow_calls, 0);
    let p = b.try_acquire().unwrap();
    clock.advance(101 * MS);
    p.success();
    let m = b.metrics();
    assert_eq!((m.slow_calls, m.failed_calls), (1, 0));
    assert_eq!(m.slow_call_rate, Some(25.0));
    assert_eq!(b.state(), State::Closed);
    let log = events(&b);
    b.try_acquire()
        .unwrap()
        .record_elapsed(K, Duration::from_secs(3));
    // 2 slow of 4, no failure at all: the slow-call rate alone opens the breaker.
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.metrics().failure_rate, Some(0.0));
    let kinds = log.lock().unwrap().clone();
    assert!(kinds
        .iter()
        .any(|k| matches!(k, EventKind::SlowCallRateExceeded { rate } if *rate == 50.0)));
    assert!(!kinds
        .iter()
        .any(|k| matches!(k, EventKind::FailureRateExceeded { .. })));
}

#[test]
fn open_rejects_with_state_and_retry_after_then_half_opens_lazily() {
    let (b, clock) = cb(count(2, 2, 50.0));
    rec(&b, F);
    rec(&b, F);
    assert_eq!(b.state(), State::Open);
    clock.advance(4 * S);
    let r = b.try_acquire().unwrap_err();
    assert_eq!(r.state, State::Open);
    assert_eq!(r.retry_after, Some(6 * S));
    assert_eq!(&*r.breaker, "svc");
    assert!(r.to_string().contains("svc"));
    match b.call(|| Ok::<_, ()>(())) {
        Err(CallError::Rejected(r)) => assert_eq!(r.state, State::Open),
        other => panic!("{other:?}"),
    }
    clock.advance(6 * S);
    assert_eq!(b.state(), State::Open, "lazy: no call yet");
    let p = b.try_acquire().unwrap();
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(p.state(), State::HalfOpen);
    assert_eq!(b.metrics().not_permitted_calls, 2);
}

#[test]
fn open_durations_grow_with_consecutive_openings_and_reset_on_close() {
    let (b, clock) = cb(count(2, 2, 50.0)
        .permitted_calls_in_half_open(1)
        .open_duration(OpenDuration::Exponential {
            initial: 10 * S,
            multiplier: 2.0,
            max: 35 * S,
            jitter: 0.0,
        }));
    rec(&b, F);
    rec(&b, F);
    let mut seen = vec![];
    for _ in 0..4 {
        let r = b.try_acquire().unwrap_err();
        assert_eq!(b.retry_after(), r.retry_after);
        seen.push(r.retry_after.unwrap().as_secs());
        clock.advance(r.retry_after.unwrap());
        rec(&b, F); // the probe fails: open again, longer
    }
    assert_eq!(seen, [10, 20, 35, 35]);
    assert_eq!(b.consecutive_openings(), 5);
    clock.advance(35 * S);
    rec(&b, K);
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.consecutive_openings(), 0);
    rec(&b, F);
    rec(&b, F);
    assert_eq!(b.try_acquire().unwrap_err().retry_after, Some(10 * S));
}

fn half_open(b: &CircuitBreaker, clock: &FakeClock) {
    b.force_open();
    b.half_open().unwrap();
    let _ = clock;
    assert_eq!(b.state(), State::HalfOpen);
}

#[test]
fn half_open_admits_exactly_the_permitted_probes() {
    let (b, clock) = cb(count(10, 10, 50.0).permitted_calls_in_half_open(3));
    half_open(&b, &clock);
    let p: Vec<_> = (0..3).map(|_| b.try_acquire().unwrap()).collect();
    let r = b.try_acquire().unwrap_err();
    assert_eq!((r.state, r.retry_after), (State::HalfOpen, None));
    let mut p = p.into_iter();
    p.next().unwrap().success();
    p.next().unwrap().failure();
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(b.metrics().buffered_calls, 2);
    assert!(b.try_acquire().is_err(), "recorded probes keep their slots");
    p.next().unwrap().success(); // judged after min(10, 3) = 3: 33 % < 50 %
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.metrics().buffered_calls, 0, "fresh window");
}

#[test]
fn half_open_is_judged_after_min_of_minimum_and_permitted() {
    let (b, clock) = cb(count(10, 2, 50.0).permitted_calls_in_half_open(5));
    half_open(&b, &clock);
    rec(&b, K);
    assert_eq!(b.state(), State::HalfOpen);
    rec(&b, F); // 2 outcomes, 50 % → open again
    assert_eq!(b.state(), State::Open);
}

#[test]
fn a_dropped_or_ignored_permit_frees_its_slot_and_records_nothing() {
    let (b, clock) = cb(count(10, 10, 50.0).permitted_calls_in_half_open(1));
    half_open(&b, &clock);
    let p = b.try_acquire().unwrap();
    assert!(b.try_acquire().is_err());
    drop(p); // cancelled
    assert_eq!(b.metrics().buffered_calls, 0);
    let p = b.try_acquire().unwrap();
    p.record(I);
    assert_eq!(b.metrics().buffered_calls, 0);
    // A panicking call drops its permit too.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _p = b.try_acquire().unwrap();
        panic!("boom");
    }));
    assert!(r.is_err());
    let p = b.try_acquire().unwrap();
    p.success();
    assert_eq!(b.state(), State::Closed);
    // Ignored outcomes are not counted when closed either.
    rec(&b, I);
    assert_eq!(b.metrics().buffered_calls, 0);
}

#[test]
fn outcomes_of_an_earlier_state_never_move_the_current_one() {
    let (b, clock) = cb(count(2, 2, 50.0).permitted_calls_in_half_open(1));
    let old = b.try_acquire().unwrap();
    b.force_open();
    b.close();
    old.failure();
    assert_eq!(b.metrics().buffered_calls, 0);
    // A probe from one half-open period cannot decide a later one.
    half_open(&b, &clock);
    let stale = b.try_acquire().unwrap();
    b.force_open();
    b.half_open().unwrap();
    stale.success();
    assert_eq!(b.state(), State::HalfOpen);
    let fresh = b.try_acquire().unwrap();
    fresh.failure();
    assert_eq!(b.state(), State::Open);
    // A closed-state permit recorded after a trip does not count in half-open.
    let (b, clock) = cb(count(2, 2, 50.0).permitted_calls_in_half_open(1));
    let late = b.try_acquire().unwrap();
    rec(&b, F);
    rec(&b, F);
    clock.advance(10 * S);
    let probe = b.try_acquire().unwrap();
    late.success();
    assert_eq!(b.metrics().buffered_calls, 0);
    probe.success();
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn special_states() {
    let (b, _) = cb(count(2, 2, 50.0));
    b.disable();
    for _ in 0..10 {
        assert!(rec(&b, F));
    }
    assert_eq!(b.state(), State::Disabled);
    assert_eq!(b.metrics().buffered_calls, 0);

    b.force_open();
    let r = b.try_acquire().unwrap_err();
    assert_eq!((r.state, r.retry_after), (State::ForcedOpen, None));

    let log = events(&b);
    b.metrics_only();
    for o in [F, F, F, K, K, K, K, F, F] {
        assert!(rec(&b, o));
    }
    assert_eq!(b.state(), State::MetricsOnly);
    let crossings = log
        .lock()
        .unwrap()
        .iter()
        .filter(|k| matches!(k, EventKind::FailureRateExceeded { .. }))
        .count();
    // F F (100 %) crosses; K K (0 %) goes below; F F crosses again: twice in all.
    assert_eq!(crossings, 2);
    assert_eq!(transitions(&log), [(State::ForcedOpen, State::MetricsOnly)]);
}

#[test]
fn illegal_transitions_are_errors() {
    let (b, _) = cb(count(2, 2, 50.0));
    let e = b.half_open().unwrap_err();
    assert_eq!((e.from, e.to), (State::Closed, State::HalfOpen));
    assert!(e.to_string().contains("illegal transition"));
    b.metrics_only();
    assert!(b.transition_to(State::HalfOpen).is_err());
    b.disable();
    assert!(b.half_open().is_err());
    b.transition_to(State::Open).unwrap();
    assert_eq!(b.state(), State::Open);
    b.half_open().unwrap();
    assert_eq!(b.state(), State::HalfOpen);
}

#[test]
fn a_transition_to_the_current_state_publishes_nothing() {
    let sync = Arc::new(wedsync_breaker::sync::MemorySync::new());
    let clock = FakeClock::new();
    let b = CircuitBreaker::builder("svc")
        .clock(Arc::new(clock))
        .state_sync(sync.clone(), "a")
        .build();
    let log = events(&b);
    b.close();
    b.transition_to(State::Closed).unwrap();
    assert!(log.lock().unwrap().is_empty());
    b.force_open();
    b.force_open();
    b.disable();
    b.disable();
    assert_eq!(
        transitions(&log),
        [
            (State::Closed, State::ForcedOpen),
            (State::ForcedOpen, State::Disabled)
        ]
    );
    assert_eq!(
        sync.take().into_iter().map(|c| c.kind).collect::<Vec<_>>(),
        [
            SharedChangeKind::ForcedOpen { until: None },
            SharedChangeKind::Disable
        ]
    );
    // reset always publishes a Reset event.
    b.close();
    b.reset();
    assert_eq!(log.lock().unwrap().last(), Some(&EventKind::Reset));
}

#[test]
fn subscribers_run_outside_the_lock_and_may_operate_the_breaker() {
    let (b, _) = cb(count(2, 2, 50.0));
    let seen = Arc::new(AtomicUsize::new(0));
    let (b2, s2) = (b.clone(), Arc::clone(&seen));
    b.subscribe(move |e| {
        // Reading and even operating the breaker from a subscriber must not deadlock.
        let _ = b2.metrics();
        if let EventKind::Transition {
            to: State::Open, ..
        } = e.kind
        {
            b2.force_open();
        }
        s2.fetch_add(1, Ordering::SeqCst);
    });
    b.subscribe(|_| panic!("a broken subscriber"));
    rec(&b, F);
    rec(&b, F);
    assert_eq!(b.state(), State::ForcedOpen);
    assert!(seen.load(Ordering::SeqCst) >= 2);
}

#[test]
fn rejections_and_reset_are_counted_and_published() {
    let (b, _) = cb(count(2, 2, 50.0));
    let log = events(&b);
    b.force_open();
    for _ in 0..3 {
        assert!(!rec(&b, K));
    }
    assert_eq!(b.metrics().not_permitted_calls, 3);
    let rejections = log
        .lock()
        .unwrap()
        .iter()
        .filter(|k| {
            matches!(
                k,
                EventKind::Rejected {
                    state: State::ForcedOpen,
                    ..
                }
            )
        })
        .count();
    assert_eq!(rejections, 3);
    b.reset();
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.metrics().not_permitted_calls, 0);
}

struct RetryAfter;
impl Classifier<u16, ()> for RetryAfter {
    fn classify(&self, r: &Result<u16, ()>) -> Outcome {
        match r {
            Ok(429) | Ok(500..) | Err(()) => F,
            Ok(_) => K,
        }
    }
    fn open_for(&self, r: &Result<u16, ()>) -> Option<Duration> {
        matches!(r, Ok(429)).then_some(7 * S)
    }
}

#[test]
fn a_retry_after_hook_opens_for_the_given_duration_in_closed_only() {
    let (b, clock) = cb(count(10, 10, 50.0).permitted_calls_in_half_open(2));
    assert_eq!(b.call_with(&RetryAfter, || Ok(200)).unwrap(), 200);
    let _ = b.call_with(&RetryAfter, || Ok(429));
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.try_acquire().unwrap_err().retry_after, Some(7 * S));
    assert_eq!(b.consecutive_openings(), 0);
    clock.advance(7 * S);
    // In half-open the hook is not honoured; the 429 is a failing probe.
    let _ = b.call_with(&RetryAfter, || Ok(429));
    assert_eq!(b.state(), State::HalfOpen);
    let _ = b.call_with(&RetryAfter, || Ok(200));
    assert_eq!(b.state(), State::Open, "1 of 2 failed = 50 %");
    assert_eq!(b.try_acquire().unwrap_err().retry_after, Some(10 * S));
}

#[test]
fn a_hung_half_open_probe_cannot_wedge_the_breaker() {
    for (target, expect) in [
        (HalfOpenTimeout::Open, State::Open),
        (HalfOpenTimeout::Closed, State::Closed),
    ] {
        let (b, clock) = cb(count(10, 10, 50.0)
            .permitted_calls_in_half_open(1)
            .max_wait_in_half_open(5 * S)
            .half_open_timeout(target));
        half_open(&b, &clock);
        let hung = b.try_acquire().unwrap();
        clock.advance(4 * S);
        assert!(b.try_acquire().is_err());
        clock.advance(S);
        let next = b.try_acquire();
        assert_eq!(b.state(), expect);
        assert_eq!(next.is_ok(), expect == State::Closed);
        hung.success(); // stale now
        assert_eq!(b.state(), expect);
    }
}

#[test]
fn wedding_day_mode_applies_the_alternative_configuration() {
    let cfg = count(4, 4, 50.0).wedding_day(WeddingDay {
        failure_rate_threshold: Some(25.0),
        wait_duration_in_open: Some(OpenDuration::Fixed(2 * S)),
        ..WeddingDay::default()
    });
    let (b, _) = cb(cfg.clone());
    for o in [F, K, K, K] {
        rec(&b, o);
    }
    assert_eq!(b.state(), State::Closed, "25 % < 50 %");

    let (b, _) = cb(cfg);
    assert!(b.set_wedding_day(true));
    assert!(!b.set_wedding_day(true));
    for o in [F, K, K, K] {
        rec(&b, o);
    }
    assert_eq!(b.state(), State::Open, "25 % ≥ 25 % on the day");
    assert_eq!(b.try_acquire().unwrap_err().retry_after, Some(2 * S));
    assert!(b.metrics().wedding_day);
}

#[test]
fn registry_per_name_config_default_enumeration_groups_and_wedding_day() {
    let clock = FakeClock::new();
    let reg = Registry::builder()
        .clock(Arc::new(clock))
        .default_config(count(4, 4, 50.0).build().unwrap())
        .config("stripe", count(2, 2, 50.0).build().unwrap())
        .group("payments", ["stripe"])
        .build();
    let stripe = reg.get("stripe");
    assert!(stripe.ptr_eq(&reg.get("stripe")), "created once");
    assert_eq!(reg.get("resend").config().minimum_calls, 4);
    assert_eq!(stripe.config().minimum_calls, 2);
    assert_eq!(reg.names(), ["resend", "stripe"]);
    assert!(reg.get_existing("twilio").is_none());

    reg.add_to_group("payments", "stripe-webhooks");
    reg.group("payments").force_open();
    assert_eq!(stripe.state(), State::ForcedOpen);
    assert_eq!(reg.get("stripe-webhooks").state(), State::ForcedOpen);
    assert_eq!(reg.get("resend").state(), State::Closed);
    reg.group("payments").close();
    assert_eq!(stripe.state(), State::Closed);
    assert_eq!(
        reg.group("payments").members(),
        ["stripe", "stripe-webhooks"]
    );

    reg.set_wedding_day(true);
    assert!(stripe.is_wedding_day());
    assert!(reg.get("twilio").is_wedding_day(), "new breakers too");
    let listed = reg.metrics();
    assert_eq!(listed.len(), 4);
    assert!(listed.iter().all(|(_, m)| m.wedding_day));
}

#[test]
fn registry_shares_changes_without_echo() {
    let sync = Arc::new(wedsync_breaker::sync::MemorySync::new());
    let a = Registry::builder()
        .instance("a")
        .state_sync(sync.clone())
        .default_config(count(2, 2, 50.0).build().unwrap())
        .build();
    let b = Registry::builder()
        .instance("b")
        .state_sync(sync.clone())
        .build();
    // A trip on instance a is published...
    rec(&a.get("stripe"), F);
    rec(&a.get("stripe"), F);
    a.get("twilio").force_open();
    let changes = sync.take();
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0].instance, "a");
    assert_eq!(
        changes[0].kind,
        SharedChangeKind::Transition {
            from: State::Closed,
            to: State::Open
        }
    );
    // ...and applied on instance b without publishing again.
    for c in &changes {
        assert_eq!(b.apply_remote(c), wedsync_breaker::RemoteApplied::Applied);
    }
    assert_eq!(b.get("stripe").state(), State::Open);
    assert_eq!(b.get("twilio").state(), State::ForcedOpen);
    assert!(sync.take().is_empty(), "no echo");
    // Own changes are ignored; an expired opening is ignored; a reset applies everywhere.
    assert_eq!(
        a.apply_remote(&changes[1]),
        wedsync_breaker::RemoteApplied::OwnInstance
    );
    let past = SharedChange {
        kind: SharedChangeKind::ForcedOpen {
            until: Some(SystemTime::now() - S),
        },
        ..SharedChange::new("resend", SharedChangeKind::Reset, "c")
    };
    assert_eq!(
        b.apply_remote(&past),
        wedsync_breaker::RemoteApplied::Unchanged
    );
    let reset = SharedChange::new("twilio", SharedChangeKind::Reset, "c");
    assert_eq!(
        b.apply_remote(&reset),
        wedsync_breaker::RemoteApplied::Applied
    );
    assert_eq!(b.get("twilio").state(), State::Closed);
    let until = SharedChange::new(
        "twilio",
        SharedChangeKind::ForcedOpen {
            until: Some(SystemTime::now() + 60 * S),
        },
        "c",
    );
    b.apply_remote(&until);
    let r = b.get("twilio").try_acquire().unwrap_err();
    assert_eq!(r.state, State::Open);
    assert!(r.retry_after.unwrap() > 50 * S);
    assert!(sync.take().is_empty(), "still no echo");
}

#[test]
fn open_until_and_open_for() {
    let (b, clock) = cb(count(2, 2, 50.0));
    b.open_for(3 * S);
    assert_eq!(b.try_acquire().unwrap_err().retry_after, Some(3 * S));
    b.open_for(5 * S); // already open: moves the deadline, no transition
    assert_eq!(b.try_acquire().unwrap_err().retry_after, Some(5 * S));
    clock.advance(5 * S);
    assert!(b.try_acquire().is_ok());
    assert_eq!(b.state(), State::HalfOpen);
    b.open_until(SystemTime::now() + 100 * S);
    let r = b.try_acquire().unwrap_err().retry_after.unwrap();
    assert!(r > 90 * S && r <= 100 * S, "{r:?}");
}

#[test]
fn registry_subscribers_see_present_and_future_breakers_and_concurrent_use_does_not_deadlock() {
    let reg = Registry::builder()
        .default_config(count(2, 2, 50.0).build().unwrap())
        .build();
    let _early = reg.get("early");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    reg.subscribe(move |e| {
        if let EventKind::Transition { to, .. } = e.kind {
            s.lock().unwrap().push((e.breaker.to_string(), to));
        }
    });
    reg.get("early").force_open();
    reg.get("late").disable();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            ("early".to_owned(), State::ForcedOpen),
            ("late".to_owned(), State::Disabled)
        ]
    );
    // Creating breakers while subscribing from another thread (the lock-order hazard).
    let r2 = reg.clone();
    let t = std::thread::spawn(move || {
        for i in 0..500 {
            r2.get(&format!("b{i}"));
        }
    });
    for _ in 0..50 {
        reg.subscribe(|_| {});
    }
    t.join().unwrap();
    assert_eq!(reg.names().len(), 502);
}

#[test]
fn retry_after_counts_down_an_open_breaker_and_is_none_otherwise() {
    let (b, clock) = cb(count(2, 2, 50.0).permitted_calls_in_half_open(1));
    assert_eq!(b.retry_after(), None, "closed");
    assert_eq!(b.metrics().retry_after, None);
    rec(&b, F);
    rec(&b, F);
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.retry_after(), Some(10 * S), "a trip: the configured wait");
    clock.advance(4 * S);
    assert_eq!(b.retry_after(), Some(6 * S));
    assert_eq!(b.metrics().retry_after, Some(6 * S));
    // The same value a rejected call carries, and asking does not count as a rejection.
    assert_eq!(b.try_acquire().unwrap_err().retry_after, b.retry_after());
    assert_eq!(b.metrics().not_permitted_calls, 1);
    clock.advance(6 * S);
    assert_eq!(b.retry_after(), Some(Duration::ZERO), "the wait is over");
    clock.advance(60 * S);
    assert_eq!(b.retry_after(), Some(Duration::ZERO), "never negative");
    assert_eq!(
        b.state(),
        State::Open,
        "reading it does not move the breaker"
    );
    let probe = b.try_acquire().unwrap();
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(b.retry_after(), None, "half-open admits probes now");
    probe.failure();
    assert_eq!(b.state(), State::Open);
    assert_eq!(
        b.retry_after(),
        Some(10 * S),
        "open again: a fresh deadline"
    );
    b.force_open();
    assert_eq!(b.retry_after(), None, "forced open has no deadline");
    assert_eq!(b.metrics().retry_after, None);
    b.disable();
    assert_eq!(b.retry_after(), None);
    b.metrics_only();
    assert_eq!(b.retry_after(), None);
}

#[test]
fn retry_after_follows_manual_openings_and_the_retry_after_hook() {
    let (b, clock) = cb(count(10, 10, 50.0));
    b.open_for(3 * S);
    assert_eq!(b.retry_after(), Some(3 * S));
    clock.advance(MS);
    assert_eq!(b.retry_after(), Some(3 * S - MS));
    b.open_for(30 * S); // already open: the deadline moves silently
    assert_eq!(b.retry_after(), Some(30 * S));
    b.open_until(SystemTime::now() + 100 * S);
    let r = b.retry_after().unwrap();
    assert!(r > 90 * S && r <= 100 * S, "{r:?}");
    b.close();
    assert_eq!(b.retry_after(), None);
    let _ = b.call_with(&RetryAfter, || Ok(429));
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.retry_after(), Some(7 * S), "the classifier's Retry-After");
}

#[test]
fn group_operations_reach_every_member_including_ones_not_created_yet() {
    let reg = Registry::builder()
        .default_config(count(2, 2, 50.0).build().unwrap())
        .group("payments", ["stripe"])
        .instance("test-1")
        .build();
    assert_eq!(reg.instance(), "test-1");
    reg.add_to_group("payments", "paypal");
    reg.add_to_group("messaging", "twilio");
    assert_eq!(reg.group_names(), ["messaging", "payments"]);
    let g = reg.group("payments");
    assert_eq!(g.name(), "payments");
    assert_eq!(g.members(), ["paypal", "stripe"]);
    assert!(reg.get_existing("paypal").is_none(), "not used yet");
    let twilio = reg.get("twilio");
    let states = |want: State| {
        for b in g.breakers() {
            assert_eq!(b.state(), want, "{}", b.name());
        }
        assert_eq!(twilio.state(), State::Closed, "another group is untouched");
    };
    g.open_for(30 * S);
    states(State::Open);
    assert!(reg.get_existing("paypal").is_some(), "created by the group");
    assert!(g.breakers().iter().all(|b| b.retry_after() > Some(29 * S)));
    g.disable();
    states(State::Disabled);
    g.metrics_only();
    states(State::MetricsOnly);
    g.close();
    states(State::Closed);
    g.force_open();
    assert!(reg.get("stripe").try_acquire().is_err());
    g.reset();
    states(State::Closed);
    assert_eq!(
        reg.get("stripe").metrics().not_permitted_calls,
        0,
        "reset clears it"
    );
    g.set_wedding_day(true);
    assert!(g.breakers().iter().all(CircuitBreaker::is_wedding_day));
    assert!(!twilio.is_wedding_day());
    assert!(reg.group("unknown").members().is_empty());
    assert!(format!("{reg:?}").contains("stripe"));
}

#[test]
fn call_errors_say_what_happened() {
    let (b, _) = cb(count(2, 2, 50.0));
    let inner = b
        .call(|| Err::<(), _>(std::io::Error::other("card declined")))
        .unwrap_err();
    assert!(!inner.is_rejected());
    assert_eq!(inner.to_string(), "card declined");
    assert!(std::error::Error::source(&inner).is_some());
    assert_eq!(inner.into_inner().unwrap().to_string(), "card declined");
    b.open_for(1500 * MS);
    let rejected = b.call(|| Ok::<_, std::io::Error>(())).unwrap_err();
    assert!(rejected.is_rejected());
    assert_eq!(
        rejected.to_string(),
        "circuit breaker `svc` is open; retry after 1.500s"
    );
    assert!(std::error::Error::source(&rejected).is_some());
    assert!(rejected.into_inner().is_none());
    let timeout: CallError<std::io::Error> = CallError::Timeout(2 * S);
    assert_eq!(timeout.to_string(), "call timed out after 2.000s");
    assert!(std::error::Error::source(&timeout).is_none());
    assert!(
        b.transition_to(State::HalfOpen).is_ok(),
        "open → half-open is legal"
    );
    b.close();
    let e = b.transition_to(State::HalfOpen).unwrap_err();
    assert_eq!(
        e.to_string(),
        "illegal transition of circuit breaker `svc` from closed to half_open"
    );
}
