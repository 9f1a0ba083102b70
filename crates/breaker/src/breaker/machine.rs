//! The state machine: every transition of a breaker's [`Inner`], taken under its lock, and
//! the effects (events, shared changes) delivered after it is released.

use super::*;

/// Events and a shared change produced under the lock, delivered after it is released.
pub(super) struct Effects {
    pub(super) events: Vec<EventKind>,
    pub(super) shared: Option<SharedChangeKind>,
    pub(super) origin: Origin,
    pub(super) at: Duration,
    pub(super) timer: Option<(u64, Duration)>,
}

impl Inner {
    #[inline]
    pub(super) fn now_nanos(&self) -> u64 {
        self.clock.now_nanos()
    }

    pub(super) fn rules_now(&self) -> &Rules {
        &self.rules[wedding_of(self.word.load(Ordering::Acquire))]
    }

    #[inline]
    pub(super) fn acquire(&self) -> Result<Ticket, Rejected> {
        let w = self.word.load(Ordering::Acquire);
        match state_of(w) {
            State::Closed | State::MetricsOnly => Ok(Ticket {
                word: w,
                start: self.start_tick(w),
            }),
            State::Disabled => Ok(Ticket {
                word: w,
                start: NO_START,
            }),
            _ => self.acquire_slow(w),
        }
    }

    #[inline]
    pub(super) fn start_tick(&self, w: u64) -> u64 {
        if self.timed[wedding_of(w)] {
            self.now_nanos()
        } else {
            NO_START
        }
    }

    #[cold]
    pub(super) fn acquire_slow(&self, mut w: u64) -> Result<Ticket, Rejected> {
        loop {
            let st = state_of(w);
            match st {
                State::Closed | State::MetricsOnly | State::Disabled => {
                    return Ok(Ticket {
                        word: w,
                        start: if st == State::Disabled {
                            NO_START
                        } else {
                            self.start_tick(w)
                        },
                    })
                }
                State::ForcedOpen => return Err(self.reject(st, None)),
                State::Open => {
                    let now = self.now_nanos();
                    let until = self.open_until.load(Ordering::Acquire);
                    if now < until {
                        return Err(self.reject(st, Some(Duration::from_nanos(until - now))));
                    }
                    self.transition_auto(w, State::HalfOpen, OpenSpec::Trip, Origin::Local);
                }
                State::HalfOpen => {
                    let rules = &self.rules[wedding_of(w)];
                    if let Some(max) = rules.max_wait_in_half_open {
                        let now = self.now_nanos();
                        let entered = self.entered_at.load(Ordering::Acquire);
                        if now.saturating_sub(entered) >= duration_nanos(max) {
                            let to = match rules.half_open_timeout {
                                HalfOpenTimeout::Open => State::Open,
                                HalfOpenTimeout::Closed => State::Closed,
                            };
                            self.transition_auto(w, to, OpenSpec::Trip, Origin::Local);
                            w = self.word.load(Ordering::Acquire);
                            continue;
                        }
                    }
                    let tag = gen_of(w) & 0xFFFF_FFFF;
                    let mut s = self.half_slots.load(Ordering::Acquire);
                    loop {
                        if s >> 32 != tag {
                            break; // the state moved on; re-read it
                        }
                        if (s & 0xFFFF_FFFF) >= u64::from(rules.permitted) {
                            return Err(self.reject(st, None));
                        }
                        match self.half_slots.compare_exchange_weak(
                            s,
                            s + 1,
                            Ordering::AcqRel,
                            Ordering::Acquire,
                        ) {
                            Ok(_) => {
                                return Ok(Ticket {
                                    word: w,
                                    start: self.start_tick(w),
                                })
                            }
                            Err(actual) => s = actual,
                        }
                    }
                }
            }
            w = self.word.load(Ordering::Acquire);
        }
    }

    pub(super) fn reject(&self, state: State, retry_after: Option<Duration>) -> Rejected {
        self.not_permitted.fetch_add(1, Ordering::Relaxed);
        let r = Rejected {
            breaker: Arc::clone(&self.name),
            state,
            retry_after,
        };
        if self.subs.any.load(Ordering::Acquire) {
            self.subs.emit(&Event {
                breaker: Arc::clone(&self.name),
                at: self.clock.now(),
                origin: Origin::Local,
                kind: EventKind::Rejected { state, retry_after },
            });
        }
        r
    }

    /// A permit dropped without an outcome: free its half-open slot.
    pub(super) fn release(&self, t: Ticket) {
        if state_of(t.word) == State::HalfOpen {
            self.release_slot(t.word);
        }
    }

    pub(super) fn release_slot(&self, word: u64) {
        let tag = gen_of(word) & 0xFFFF_FFFF;
        let _ = self
            .half_slots
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                (s >> 32 == tag && s & 0xFFFF_FFFF > 0).then(|| s - 1)
            });
    }

    #[inline]
    pub(super) fn is_slow(
        &self,
        rules: &Rules,
        t: &Ticket,
        elapsed: Option<u64>,
        now: &mut Option<u64>,
    ) -> bool {
        let Some(threshold) = rules.slow_call_nanos else {
            return false;
        };
        let elapsed = match elapsed {
            Some(e) => e,
            None if t.start != NO_START => {
                let n = self.now_nanos();
                *now = Some(n);
                n.saturating_sub(t.start)
            }
            None => return false,
        };
        elapsed > threshold
    }

    #[inline]
    pub(super) fn record(&self, t: Ticket, outcome: Outcome, elapsed: Option<u64>) {
        match state_of(t.word) {
            State::Closed | State::MetricsOnly => {
                if outcome == Outcome::Ignored {
                    return;
                }
                let cur = self.word.load(Ordering::Acquire);
                if !same_gen(cur, t.word) {
                    return; // belongs to an earlier state
                }
                let rules = &self.rules[wedding_of(cur)];
                let failed = outcome == Outcome::Failure;
                let mut now = None;
                let slow = self.is_slow(rules, &t, elapsed, &mut now);
                match &self.closed {
                    ClosedWindow::Count(w) => {
                        if !failed
                            && !slow
                            && w.full_of_successes(epoch_of(cur))
                            && self.exceeded.load(Ordering::Relaxed) == 0
                        {
                            return; // a fast success replacing a fast success: nothing changes
                        }
                        if let Some(c) = w.record(epoch_of(cur), failed, slow) {
                            self.evaluate_closed(cur, c, rules, None);
                        }
                    }
                    ClosedWindow::Time(w) => {
                        let now = now.unwrap_or_else(|| self.now_nanos());
                        let second = now / 1_000_000_000;
                        if let Some(Some(c)) = w.record(epoch_of(cur), second, failed, slow) {
                            self.evaluate_closed(cur, c, rules, Some(second));
                        }
                    }
                }
            }
            State::HalfOpen => self.record_half_open(t, outcome, elapsed),
            _ => {}
        }
    }

    #[inline]
    pub(super) fn evaluate_closed(&self, cur: u64, c: Counts, rules: &Rules, second: Option<u64>) {
        if c.calls < rules.minimum_calls {
            if let ClosedWindow::Time(w) = &self.closed {
                w.clear_healthy();
            }
            return;
        }
        let (f_ex, s_ex) = exceeded(c, rules);
        if f_ex || s_ex {
            if let ClosedWindow::Time(w) = &self.closed {
                w.clear_healthy();
            }
        } else {
            if self.exceeded.load(Ordering::Relaxed) != 0 {
                self.exceeded.store(0, Ordering::Relaxed);
            }
            if let (ClosedWindow::Time(w), Some(s)) = (&self.closed, second) {
                w.mark_healthy(epoch_of(cur), s);
            }
            return;
        }
        self.threshold_exceeded(cur, c, f_ex, s_ex);
    }

    #[cold]
    pub(super) fn threshold_exceeded(&self, cur: u64, c: Counts, f_ex: bool, s_ex: bool) {
        let flags = u8::from(f_ex) | (u8::from(s_ex) << 1);
        let prev = self.exceeded.swap(flags, Ordering::AcqRel);
        let newly = flags & !prev;
        let at = self.clock.now();
        let rate = |n: u32| n as f32 * 100.0 / c.calls as f32;
        for (bit, kind) in [
            (
                1,
                EventKind::FailureRateExceeded {
                    rate: rate(c.failed),
                },
            ),
            (2, EventKind::SlowCallRateExceeded { rate: rate(c.slow) }),
        ] {
            if newly & bit != 0 {
                self.emit(at, Origin::Local, kind);
            }
        }
        if state_of(cur) == State::Closed {
            self.transition_auto(cur, State::Open, OpenSpec::Trip, Origin::Local);
        }
    }

    pub(super) fn record_half_open(&self, t: Ticket, outcome: Outcome, elapsed: Option<u64>) {
        let cur = self.word.load(Ordering::Acquire);
        if !same_gen(cur, t.word) {
            return;
        }
        if outcome == Outcome::Ignored {
            self.release_slot(t.word);
            return;
        }
        let rules = &self.rules[wedding_of(cur)];
        let mut now = None;
        let slow = self.is_slow(rules, &t, elapsed, &mut now);
        let Some(c) = self
            .half
            .record(epoch_of(cur), outcome == Outcome::Failure, slow)
        else {
            return;
        };
        let needed = rules.minimum_calls.min(rules.permitted);
        if c.calls < needed {
            return;
        }
        let (f_ex, s_ex) = exceeded(c, rules);
        let to = if f_ex || s_ex {
            State::Open
        } else {
            State::Closed
        };
        self.transition_auto(cur, to, OpenSpec::Trip, Origin::Local);
    }

    /// A `Retry-After`-style hook asked to open for `d` (closed state only).
    pub(super) fn hook_open(&self, admitted: u64, d: Duration) {
        let ctl = lock(&self.ctl);
        let cur = self.word.load(Ordering::Acquire);
        if !same_gen(cur, admitted) || state_of(cur) != State::Closed {
            return;
        }
        let shared = SharedChangeKind::ForcedOpen {
            until: Some(SystemTime::now() + d),
        };
        self.commit(
            ctl,
            cur,
            State::Open,
            OpenSpec::For(d),
            Origin::Local,
            Some(shared),
            false,
        );
    }

    /// An automatic transition from the exact state `expect` (same generation); returns whether
    /// this thread made it.
    pub(super) fn transition_auto(
        &self,
        expect: u64,
        to: State,
        open: OpenSpec,
        origin: Origin,
    ) -> bool {
        let ctl = lock(&self.ctl);
        let cur = self.word.load(Ordering::Acquire);
        if !same_gen(cur, expect) || state_of(cur) == to {
            return false;
        }
        if to == State::HalfOpen && state_of(cur) == State::Open {
            // Re-check the deadline under the lock.
            if self.now_nanos() < self.open_until.load(Ordering::Acquire) {
                return false;
            }
        }
        self.commit(ctl, cur, to, open, origin, None, false);
        true
    }

    /// A manual operation. `open` is the open duration when `to == Open`.
    pub(super) fn manual(
        &self,
        to: State,
        open: Option<Duration>,
        origin: Origin,
        reset: bool,
    ) -> bool {
        let ctl = lock(&self.ctl);
        let cur = self.word.load(Ordering::Acquire);
        let from = state_of(cur);
        let shared = match (to, reset) {
            (_, true) => SharedChangeKind::Reset,
            (State::ForcedOpen, _) => SharedChangeKind::ForcedOpen { until: None },
            (State::Open, _) => SharedChangeKind::ForcedOpen {
                until: open.map(|d| SystemTime::now() + d),
            },
            (State::Disabled, _) => SharedChangeKind::Disable,
            (State::MetricsOnly, _) => SharedChangeKind::MetricsOnly,
            _ => SharedChangeKind::Close,
        };
        if from == to && !reset {
            if to == State::Open {
                if let Some(d) = open {
                    // Already open: move the deadline, publish nothing.
                    let until = self.now_nanos().saturating_add(duration_nanos(d));
                    self.open_until.store(until, Ordering::Release);
                }
            }
            return false;
        }
        let spec = match open {
            Some(d) => OpenSpec::For(d),
            None => OpenSpec::Trip,
        };
        self.commit(ctl, cur, to, spec, origin, Some(shared), reset);
        true
    }

    /// Operator half-open; `Err(current)` when illegal.
    pub(super) fn manual_half_open(&self, origin: Origin) -> Result<bool, State> {
        let ctl = lock(&self.ctl);
        let cur = self.word.load(Ordering::Acquire);
        let from = state_of(cur);
        if from == State::HalfOpen {
            return Ok(false);
        }
        if !from.can_transition_to(State::HalfOpen) {
            return Err(from);
        }
        self.commit(
            ctl,
            cur,
            State::HalfOpen,
            OpenSpec::Trip,
            origin,
            None,
            false,
        );
        Ok(true)
    }

    pub(super) fn set_wedding_day(&self, on: bool, origin: Origin) -> bool {
        let ctl = lock(&self.ctl);
        let cur = self.word.load(Ordering::Acquire);
        if (cur & WEDDING != 0) == on {
            return false;
        }
        let next = if on { cur | WEDDING } else { cur & !WEDDING };
        if let ClosedWindow::Time(w) = &self.closed {
            // The thresholds change: a healthy verdict under the old ones no longer holds.
            w.clear_healthy();
        }
        self.word.store(next, Ordering::Release);
        drop(ctl);
        self.deliver(Effects {
            events: vec![EventKind::WeddingDay { on }],
            shared: Some(SharedChangeKind::WeddingDay { on }),
            origin,
            at: self.clock.now(),
            timer: None,
        });
        true
    }

    /// Performs a transition under the lock, then releases it and delivers the effects.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn commit(
        &self,
        mut ctl: MutexGuard<'_, Control>,
        cur: u64,
        to: State,
        open: OpenSpec,
        origin: Origin,
        manual: Option<SharedChangeKind>,
        reset: bool,
    ) {
        let from = state_of(cur);
        let now = self.now_nanos();
        let gen = gen_of(cur).wrapping_add(1) & (u64::MAX >> GEN_SHIFT);
        let next = (gen << GEN_SHIFT) | (cur & WEDDING) | to as u64;
        let epoch = gen as u16;
        let rules = &self.rules[wedding_of(cur)];
        let mut timer = None;
        match to {
            State::Closed | State::MetricsOnly | State::Disabled => {
                match &self.closed {
                    ClosedWindow::Count(w) => w.reset(epoch),
                    ClosedWindow::Time(w) => w.reset(epoch),
                }
                self.exceeded.store(0, Ordering::Release);
                self.metrics_src.store(SRC_CLOSED, Ordering::Release);
                if to == State::Closed {
                    ctl.consecutive_opens = 0;
                }
            }
            State::Open => {
                let d = match open {
                    OpenSpec::For(d) => d,
                    OpenSpec::Trip => {
                        ctl.consecutive_opens = ctl.consecutive_opens.saturating_add(1);
                        let u = ctl.next_unit();
                        rules.open.for_opening(ctl.consecutive_opens, u)
                    }
                };
                self.open_until
                    .store(now.saturating_add(duration_nanos(d)), Ordering::Release);
                if from == State::HalfOpen {
                    self.metrics_src.store(SRC_HALF, Ordering::Release);
                }
                if self.config.automatic_transition_to_half_open {
                    timer = Some((next, d));
                }
            }
            State::HalfOpen => {
                self.half.reset(epoch);
                self.half_slots
                    .store((gen & 0xFFFF_FFFF) << 32, Ordering::Release);
                self.exceeded.store(0, Ordering::Release);
                self.metrics_src.store(SRC_HALF, Ordering::Release);
            }
            State::ForcedOpen => {}
        }
        if reset {
            ctl.consecutive_opens = 0;
            self.not_permitted.store(0, Ordering::Relaxed);
        }
        self.entered_at.store(now, Ordering::Release);
        self.word.store(next, Ordering::Release);
        drop(ctl);
        let mut events = Vec::with_capacity(1);
        if reset {
            events.push(EventKind::Reset);
        } else {
            events.push(EventKind::Transition { from, to });
        }
        let shared = manual.or(Some(SharedChangeKind::Transition { from, to }));
        self.deliver(Effects {
            events,
            shared,
            origin,
            at: Duration::from_nanos(now),
            timer,
        });
    }

    pub(super) fn emit(&self, at: Duration, origin: Origin, kind: EventKind) {
        self.subs.emit(&Event {
            breaker: Arc::clone(&self.name),
            at,
            origin,
            kind,
        });
    }

    /// Delivers events and the shared change; called with no lock held.
    pub(super) fn deliver(&self, fx: Effects) {
        for kind in fx.events {
            self.emit(fx.at, fx.origin, kind);
        }
        if fx.origin == Origin::Local {
            if let (Some((sync, instance)), Some(kind)) = (&self.sync, fx.shared) {
                sync.publish(&SharedChange::new(&*self.name, kind, &**instance));
            }
        }
        if let Some((word, d)) = fx.timer {
            self.start_timer(word, d);
        }
    }

    #[cfg(feature = "tokio")]
    pub(super) fn start_timer(&self, word: u64, d: Duration) {
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let me = self.me.clone();
            handle.spawn(async move {
                let mut wait = d;
                // Re-arm a few times if the breaker's clock says the deadline is still ahead
                // (timer rounding, or `open_for` moved it); give up once the state moved on.
                for _ in 0..4 {
                    tokio::time::sleep(wait).await;
                    let Some(inner) = me.upgrade() else { return };
                    if !same_gen(inner.word.load(Ordering::Acquire), word) {
                        return;
                    }
                    let (now, until) =
                        (inner.now_nanos(), inner.open_until.load(Ordering::Acquire));
                    if now >= until {
                        inner.transition_auto(word, State::HalfOpen, OpenSpec::Trip, Origin::Local);
                        return;
                    }
                    wait = Duration::from_nanos(until - now);
                }
            });
        }
    }

    #[cfg(not(feature = "tokio"))]
    pub(super) fn start_timer(&self, _word: u64, _d: Duration) {}

    /// See [`CircuitBreaker::retry_after`].
    pub(super) fn retry_after(&self) -> Option<Duration> {
        let mut w = self.word.load(Ordering::Acquire);
        loop {
            if state_of(w) != State::Open {
                return None;
            }
            // The deadline is stored before the state word; re-read the word so the deadline
            // belongs to the opening that was read (not to a later one, nor a stale one).
            let until = self.open_until.load(Ordering::Acquire);
            let again = self.word.load(Ordering::Acquire);
            if again == w {
                return Some(Duration::from_nanos(until.saturating_sub(self.now_nanos())));
            }
            w = again;
        }
    }

    pub(super) fn metrics(&self) -> Metrics {
        let w = self.word.load(Ordering::Acquire);
        let st = state_of(w);
        let rules = &self.rules[wedding_of(w)];
        let src = match st {
            State::HalfOpen => SRC_HALF,
            State::Open | State::ForcedOpen => self.metrics_src.load(Ordering::Acquire),
            _ => SRC_CLOSED,
        };
        let (c, min) = if src == SRC_HALF {
            (
                self.half.snapshot().1,
                rules.minimum_calls.min(rules.permitted),
            )
        } else {
            let c = match &self.closed {
                ClosedWindow::Count(cw) => cw.snapshot().1,
                ClosedWindow::Time(tw) => tw.sum(tw.epoch(), self.now_nanos() / 1_000_000_000),
            };
            (c, rules.minimum_calls)
        };
        Metrics {
            state: st,
            wedding_day: w & WEDDING != 0,
            failure_rate: rate(c.failed, c.calls, min),
            slow_call_rate: rate(c.slow, c.calls, min),
            buffered_calls: c.calls,
            failed_calls: c.failed,
            slow_calls: c.slow,
            not_permitted_calls: self.not_permitted.load(Ordering::Relaxed),
            retry_after: self.retry_after(),
        }
    }
}

/// Whether the failure and slow-call rates of `c` reach their thresholds (rates ≥ threshold).
#[inline]
pub(super) fn exceeded(c: Counts, rules: &Rules) -> (bool, bool) {
    let calls = c.calls as f32;
    let f = c.failed > 0 && c.failed as f32 * 100.0 / calls >= rules.failure_rate_threshold;
    let s = c.slow > 0
        && rules.slow_call_nanos.is_some()
        && c.slow as f32 * 100.0 / calls >= rules.slow_call_rate_threshold;
    (f, s)
}
