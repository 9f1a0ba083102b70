//! The breaker agrees with a small, obviously-correct reference model on random sequences of
//! calls, outcomes, clock advances and manual operations.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use wedsync_breaker::{
    BreakerConfig, CircuitBreaker, FakeClock, HalfOpenTimeout, Metrics, OpenDuration, Outcome,
    OwnedPermit, SlidingWindow, State, WeddingDay,
};

#[derive(Debug, Clone, Copy)]
struct Rules {
    failure: f32,
    slow_rate: f32,
    slow_ns: Option<u64>,
    min: u32,
    open: OpenDuration,
    permitted: u32,
    max_wait_ns: Option<u64>,
    timeout_to: State,
}

#[derive(Debug, Clone, Copy)]
struct MPermit {
    gen: u64,
    state: State,
    start: Option<u64>,
}

/// The reference: plain vectors, recomputed from scratch, one thread.
struct Model {
    window: SlidingWindow,
    rules: [Rules; 2],
    wedding: bool,
    state: State,
    gen: u64,
    now: u64,
    open_until: u64,
    entered: u64,
    consecutive: u32,
    not_permitted: u64,
    count_win: VecDeque<(bool, bool)>,
    time_win: Vec<(u64, bool, bool)>,
    half: Vec<(bool, bool)>,
    taken: u32,
    src_half: bool,
}

fn rate(part: u32, calls: u32, min: u32) -> Option<f32> {
    (calls >= min && calls > 0).then(|| part as f32 * 100.0 / calls as f32)
}

impl Model {
    fn r(&self) -> Rules {
        self.rules[usize::from(self.wedding)]
    }

    fn transition(&mut self, to: State, open_for: Option<u64>, reset: bool) {
        let from = self.state;
        self.gen += 1;
        match to {
            State::Closed | State::MetricsOnly | State::Disabled => {
                self.count_win.clear();
                self.time_win.clear();
                self.src_half = false;
                if to == State::Closed {
                    self.consecutive = 0;
                }
            }
            State::Open => {
                let d = match open_for {
                    Some(d) => d,
                    None => {
                        self.consecutive += 1;
                        self.r().open.for_opening(self.consecutive, 0.5).as_nanos() as u64
                    }
                };
                self.open_until = self.now + d;
                if from == State::HalfOpen {
                    self.src_half = true;
                }
            }
            State::HalfOpen => {
                self.half.clear();
                self.taken = 0;
                self.src_half = true;
            }
            State::ForcedOpen => {}
        }
        if reset {
            self.consecutive = 0;
            self.not_permitted = 0;
        }
        self.entered = self.now;
        self.state = to;
    }

    fn acquire(&mut self) -> Option<MPermit> {
        loop {
            let r = self.r();
            let timed = r.slow_ns.map(|_| self.now);
            match self.state {
                State::Closed | State::MetricsOnly => {
                    return Some(MPermit {
                        gen: self.gen,
                        state: self.state,
                        start: timed,
                    })
                }
                State::Disabled => {
                    return Some(MPermit {
                        gen: self.gen,
                        state: self.state,
                        start: None,
                    })
                }
                State::ForcedOpen => {
                    self.not_permitted += 1;
                    return None;
                }
                State::Open => {
                    if self.now < self.open_until {
                        self.not_permitted += 1;
                        return None;
                    }
                    self.transition(State::HalfOpen, None, false);
                }
                State::HalfOpen => {
                    if let Some(mw) = r.max_wait_ns {
                        if self.now - self.entered >= mw {
                            self.transition(r.timeout_to, None, false);
                            continue;
                        }
                    }
                    if self.taken >= r.permitted {
                        self.not_permitted += 1;
                        return None;
                    }
                    self.taken += 1;
                    return Some(MPermit {
                        gen: self.gen,
                        state: self.state,
                        start: timed,
                    });
                }
            }
        }
    }

    fn closed_counts(&self) -> (u32, u32, u32) {
        let mut c = (0, 0, 0);
        let mut add = |f: bool, s: bool| {
            c.0 += 1;
            c.1 += u32::from(f);
            c.2 += u32::from(s);
        };
        match self.window {
            SlidingWindow::Count(_) => self.count_win.iter().for_each(|&(f, s)| add(f, s)),
            SlidingWindow::Time(n) => {
                let sec = self.now / 1_000_000_000;
                let oldest = sec.saturating_sub(u64::from(n) - 1);
                for &(t, f, s) in &self.time_win {
                    if t >= oldest && t <= sec {
                        add(f, s);
                    }
                }
            }
            _ => unreachable!(),
        }
        c
    }

    fn exceeded(&self, c: (u32, u32, u32)) -> bool {
        let r = self.r();
        let f = rate(c.1, c.0, 0).is_some_and(|x| c.1 > 0 && x >= r.failure);
        let s =
            r.slow_ns.is_some() && rate(c.2, c.0, 0).is_some_and(|x| c.2 > 0 && x >= r.slow_rate);
        f || s
    }

    fn record(&mut self, p: MPermit, o: Outcome, elapsed: Option<u64>) {
        if p.gen != self.gen {
            return;
        }
        let r = self.r();
        let slow = match (r.slow_ns, elapsed, p.start) {
            (None, _, _) => false,
            (Some(t), Some(e), _) => e > t,
            (Some(t), None, Some(start)) => self.now - start > t,
            (Some(_), None, None) => false,
        };
        let failed = o == Outcome::Failure;
        match p.state {
            State::Closed | State::MetricsOnly => {
                if o == Outcome::Ignored {
                    return;
                }
                match self.window {
                    SlidingWindow::Count(n) => {
                        self.count_win.push_back((failed, slow));
                        if self.count_win.len() > n as usize {
                            self.count_win.pop_front();
                        }
                    }
                    _ => self.time_win.push((self.now / 1_000_000_000, failed, slow)),
                }
                let c = self.closed_counts();
                if c.0 >= r.min && self.exceeded(c) && self.state == State::Closed {
                    self.transition(State::Open, None, false);
                }
            }
            State::HalfOpen => {
                if o == Outcome::Ignored {
                    self.taken = self.taken.saturating_sub(1);
                    return;
                }
                self.half.push((failed, slow));
                let c = self.half.iter().fold((0, 0, 0), |c, &(f, s)| {
                    (c.0 + 1, c.1 + u32::from(f), c.2 + u32::from(s))
                });
                if c.0 >= r.min.min(r.permitted) {
                    let to = if self.exceeded(c) {
                        State::Open
                    } else {
                        State::Closed
                    };
                    self.transition(to, None, false);
                }
            }
            _ => {}
        }
    }

    fn drop_permit(&mut self, p: MPermit) {
        if p.state == State::HalfOpen && p.gen == self.gen {
            self.taken = self.taken.saturating_sub(1);
        }
    }

    fn manual(&mut self, to: State, open_for: Option<u64>, reset: bool) {
        if self.state == to && !reset {
            if let (State::Open, Some(d)) = (to, open_for) {
                self.open_until = self.now + d;
            }
            return;
        }
        self.transition(to, open_for, reset);
    }

    fn metrics(&self) -> Metrics {
        let r = self.r();
        let half = match self.state {
            State::HalfOpen => true,
            State::Open | State::ForcedOpen => self.src_half,
            _ => false,
        };
        let (c, min) = if half {
            let c = self.half.iter().fold((0, 0, 0), |c, &(f, s)| {
                (c.0 + 1, c.1 + u32::from(f), c.2 + u32::from(s))
            });
            (c, r.min.min(r.permitted))
        } else {
            (self.closed_counts(), r.min)
        };
        let mut m = CircuitBreaker::new("x", BreakerConfig::default()).metrics();
        m.state = self.state;
        m.wedding_day = self.wedding;
        m.failure_rate = rate(c.1, c.0, min);
        m.slow_call_rate = rate(c.2, c.0, min);
        m.buffered_calls = c.0;
        m.failed_calls = c.1;
        m.slow_calls = c.2;
        m.not_permitted_calls = self.not_permitted;
        m.retry_after = (self.state == State::Open)
            .then(|| Duration::from_nanos(self.open_until.saturating_sub(self.now)));
        m
    }
}

#[derive(Debug, Clone)]
enum Op {
    Call(Outcome, u64),
    Acquire,
    Record(usize, Outcome),
    RecordElapsed(usize, Outcome, u64),
    Drop(usize),
    Advance(u64),
    ForceOpen,
    Close,
    Disable,
    MetricsOnly,
    Reset,
    OpenFor(u64),
    HalfOpen,
    Wedding(bool),
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        4 => Just(Outcome::Success),
        3 => Just(Outcome::Failure),
        1 => Just(Outcome::Ignored)
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (outcome(), 0u64..400).prop_map(|(o, d)| Op::Call(o, d)),
        3 => Just(Op::Acquire),
        3 => (any::<usize>(), outcome()).prop_map(|(i, o)| Op::Record(i, o)),
        1 => (any::<usize>(), outcome(), 0u64..400).prop_map(|(i, o, d)| Op::RecordElapsed(i, o, d)),
        1 => any::<usize>().prop_map(Op::Drop),
        6 => (0u64..2500).prop_map(Op::Advance),
        1 => Just(Op::ForceOpen),
        1 => Just(Op::Close),
        1 => Just(Op::Disable),
        1 => Just(Op::MetricsOnly),
        1 => Just(Op::Reset),
        1 => (0u64..3000).prop_map(Op::OpenFor),
        1 => Just(Op::HalfOpen),
        1 => any::<bool>().prop_map(Op::Wedding),
    ]
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn open_duration() -> impl Strategy<Value = OpenDuration> {
    prop_oneof![
        (100u64..3000).prop_map(|d| OpenDuration::Fixed(ms(d))),
        (
            100u64..1000,
            prop::sample::select(vec![1.0, 1.5, 2.0]),
            1u64..5
        )
            .prop_map(|(i, m, k)| OpenDuration::Exponential {
                initial: ms(i),
                multiplier: m,
                max: ms(i * k),
                jitter: 0.0,
            }),
    ]
}

fn config() -> impl Strategy<Value = BreakerConfig> {
    let thr = || prop::sample::select(vec![20.0f32, 25.0, 50.0, 60.0, 100.0]);
    (
        prop_oneof![
            (1u32..=6).prop_map(SlidingWindow::Count),
            (1u32..=4).prop_map(SlidingWindow::Time)
        ],
        1u32..=6,
        thr(),
        thr(),
        prop::option::of(0u64..300),
        open_duration(),
        1u32..=4,
        prop::option::of(500u64..5000),
        any::<bool>(),
        prop::option::of((
            thr(),
            prop::option::of(1u32..=4),
            prop::option::of(1u32..=3),
        )),
    )
        .prop_map(
            |(window, min, failure, slow_rate, slow, open, permitted, max_wait, to_closed, wd)| {
                let mut b = BreakerConfig::builder()
                    .sliding_window(window)
                    .minimum_calls(min)
                    .failure_rate_threshold(failure)
                    .slow_call_rate_threshold(slow_rate)
                    .open_duration(open)
                    .permitted_calls_in_half_open(permitted)
                    .half_open_timeout(if to_closed {
                        HalfOpenTimeout::Closed
                    } else {
                        HalfOpenTimeout::Open
                    });
                if let Some(s) = slow {
                    b = b.slow_call_duration_threshold(ms(s));
                }
                if let Some(w) = max_wait {
                    b = b.max_wait_in_half_open(ms(w));
                }
                if let Some((f, m, p)) = wd {
                    b = b.wedding_day(WeddingDay {
                        failure_rate_threshold: Some(f),
                        minimum_calls: m,
                        permitted_calls_in_half_open: p,
                        wait_duration_in_open: Some(OpenDuration::Fixed(ms(700))),
                        ..WeddingDay::default()
                    });
                }
                b.build().unwrap()
            },
        )
}

fn rules(cfg: &BreakerConfig, wedding: bool) -> Rules {
    let w = if wedding {
        cfg.wedding_day
            .unwrap_or_else(|| WeddingDay::derived_from(cfg))
    } else {
        WeddingDay::default()
    };
    // the wedding-day override, else the base value, in nanoseconds
    let nanos =
        |over: Option<Duration>, base: Option<Duration>| over.or(base).map(|d| d.as_nanos() as u64);
    Rules {
        failure: w
            .failure_rate_threshold
            .unwrap_or(cfg.failure_rate_threshold),
        slow_rate: w
            .slow_call_rate_threshold
            .unwrap_or(cfg.slow_call_rate_threshold),
        slow_ns: nanos(
            w.slow_call_duration_threshold,
            cfg.slow_call_duration_threshold,
        ),
        min: w.minimum_calls.unwrap_or(cfg.minimum_calls),
        open: w.wait_duration_in_open.unwrap_or(cfg.wait_duration_in_open),
        permitted: w
            .permitted_calls_in_half_open
            .unwrap_or(cfg.permitted_calls_in_half_open),
        max_wait_ns: nanos(w.max_wait_in_half_open, cfg.max_wait_in_half_open),
        timeout_to: match cfg.half_open_timeout {
            HalfOpenTimeout::Closed => State::Closed,
            _ => State::Open,
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn breaker_agrees_with_the_reference_model(cfg in config(), ops in prop::collection::vec(op(), 1..120)) {
        let clock = FakeClock::new();
        let b = CircuitBreaker::builder("m").config(cfg.clone()).clock(Arc::new(clock.clone())).build();
        let mut m = Model {
            window: cfg.sliding_window,
            rules: [rules(&cfg, false), rules(&cfg, true)],
            wedding: false,
            state: State::Closed,
            gen: 0,
            now: 0,
            open_until: 0,
            entered: 0,
            consecutive: 0,
            not_permitted: 0,
            count_win: VecDeque::new(),
            time_win: Vec::new(),
            half: Vec::new(),
            taken: 0,
            src_half: false,
        };
        let mut held: Vec<(MPermit, OwnedPermit)> = Vec::new();
        for (step, op) in ops.iter().enumerate() {
            match *op {
                Op::Call(o, d) => {
                    let real = b.try_acquire_owned();
                    let model = m.acquire();
                    prop_assert_eq!(real.is_ok(), model.is_some(), "admission at step {}", step);
                    if let (Ok(p), Some(mp)) = (real, model) {
                        clock.advance(ms(d));
                        m.now += d * 1_000_000;
                        p.record(o);
                        m.record(mp, o, None);
                    }
                }
                Op::Acquire => {
                    let real = b.try_acquire_owned();
                    let model = m.acquire();
                    prop_assert_eq!(real.is_ok(), model.is_some(), "admission at step {}", step);
                    if let (Ok(p), Some(mp)) = (real, model) {
                        held.push((mp, p));
                    }
                }
                Op::Record(i, o) if !held.is_empty() => {
                    let (mp, p) = held.remove(i % held.len());
                    p.record(o);
                    m.record(mp, o, None);
                }
                Op::RecordElapsed(i, o, d) if !held.is_empty() => {
                    let (mp, p) = held.remove(i % held.len());
                    p.record_elapsed(o, ms(d));
                    m.record(mp, o, Some(d * 1_000_000));
                }
                Op::Drop(i) if !held.is_empty() => {
                    let (mp, p) = held.remove(i % held.len());
                    drop(p);
                    m.drop_permit(mp);
                }
                Op::Record(..) | Op::RecordElapsed(..) | Op::Drop(_) => {}
                Op::Advance(d) => {
                    clock.advance(ms(d));
                    m.now += d * 1_000_000;
                }
                Op::ForceOpen => { b.force_open(); m.manual(State::ForcedOpen, None, false); }
                Op::Close => { b.close(); m.manual(State::Closed, None, false); }
                Op::Disable => { b.disable(); m.manual(State::Disabled, None, false); }
                Op::MetricsOnly => { b.metrics_only(); m.manual(State::MetricsOnly, None, false); }
                Op::Reset => { b.reset(); m.manual(State::Closed, None, true); }
                Op::OpenFor(d) => { b.open_for(ms(d)); m.manual(State::Open, Some(d * 1_000_000), false); }
                Op::HalfOpen => {
                    let legal = matches!(m.state, State::Open | State::ForcedOpen | State::HalfOpen);
                    prop_assert_eq!(b.half_open().is_ok(), legal);
                    if legal && m.state != State::HalfOpen {
                        m.transition(State::HalfOpen, None, false);
                    }
                }
                Op::Wedding(on) => { b.set_wedding_day(on); m.wedding = on; }
            }
            prop_assert_eq!(b.metrics(), m.metrics(), "after step {}: {:?}", step, op);
            prop_assert_eq!(b.consecutive_openings(), m.consecutive, "after step {}", step);
        }
    }
}
