//! Named breakers with per-name configuration, created on first use.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use crate::breaker::{CircuitBreaker, Event, Metrics};
use crate::clock::{Clock, CoarseClock};
use crate::config::BreakerConfig;
use crate::sync::{RemoteApplied, SharedChange, StateSync};

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}
fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

type Subscriber = Arc<dyn Fn(&Event) + Send + Sync>;

struct RegistryInner {
    /// Shared by every breaker built with it (not copied into each).
    default: Arc<BreakerConfig>,
    configs: HashMap<String, Arc<BreakerConfig>>,
    /// Keyed by each breaker's own name (no second copy of the string).
    breakers: RwLock<BTreeMap<Arc<str>, CircuitBreaker>>,
    groups: RwLock<BTreeMap<String, BTreeSet<String>>>,
    clock: Arc<dyn Clock>,
    sync: Option<Arc<dyn StateSync>>,
    instance: Arc<str>,
    wedding_day: AtomicBool,
    subscribers: RwLock<Vec<Subscriber>>,
}

/// A set of named breakers: per-name configuration with a default, created on first use,
/// enumerable, switchable to wedding-day mode as a whole, with groups for kill switches, and the
/// entry point for changes from other processes ([`Registry::apply_remote`]).
///
/// Cloning is cheap; clones share the breakers. Look a breaker up once and keep its handle: the
/// lookup takes a read lock, calls through the handle take none.
///
/// ```
/// use wedsync_breaker::{BreakerConfig, Registry, State};
///
/// let reg = Registry::builder()
///     .config("twilio", BreakerConfig::builder().minimum_calls(5).build().unwrap())
///     .group("messaging", ["twilio", "resend"])
///     .build();
/// let twilio = reg.get("twilio");
/// assert_eq!(twilio.config().minimum_calls, 5);
/// assert_eq!(reg.get("stripe").config().minimum_calls, 100); // the default
///
/// reg.group("messaging").force_open(); // kill switch
/// assert_eq!(twilio.state(), State::ForcedOpen);
/// assert_eq!(reg.get("resend").state(), State::ForcedOpen);
/// assert_eq!(reg.names(), ["resend", "stripe", "twilio"]);
/// ```
#[derive(Clone)]
pub struct Registry {
    inner: Arc<RegistryInner>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("instance", &self.inner.instance)
            .field("breakers", &self.names())
            .finish_non_exhaustive()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::builder().build()
    }
}

/// Builder for a [`Registry`].
#[must_use]
pub struct RegistryBuilder {
    default: BreakerConfig,
    configs: HashMap<String, BreakerConfig>,
    groups: BTreeMap<String, BTreeSet<String>>,
    clock: Option<Arc<dyn Clock>>,
    sync: Option<Arc<dyn StateSync>>,
    instance: Option<Arc<str>>,
    wedding_day: bool,
}

impl fmt::Debug for RegistryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryBuilder")
            .field("default", &self.default)
            .field("configs", &self.configs)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

impl RegistryBuilder {
    /// The configuration of breakers without their own.
    pub fn default_config(mut self, cfg: BreakerConfig) -> Self {
        self.default = cfg;
        self
    }

    /// The configuration of the breaker called `name`.
    pub fn config(mut self, name: impl Into<String>, cfg: BreakerConfig) -> Self {
        self.configs.insert(name.into(), cfg);
        self
    }

    /// Puts `members` in the group `group` (a breaker may be in several groups).
    pub fn group<I, S>(mut self, group: impl Into<String>, members: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.groups
            .entry(group.into())
            .or_default()
            .extend(members.into_iter().map(Into::into));
        self
    }

    /// The clock of every breaker (default: the process-wide [`CoarseClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Publishes every breaker's local changes to `sync` (see [`crate::sync`]).
    pub fn state_sync(mut self, sync: Arc<dyn StateSync>) -> Self {
        self.sync = Some(sync);
        self
    }

    /// This process's id in [`SharedChange::instance`] (default: `pid-<process id>`). Give each
    /// server process a unique id, e.g. host name plus a random suffix.
    pub fn instance(mut self, id: impl Into<Arc<str>>) -> Self {
        self.instance = Some(id.into());
        self
    }

    /// Starts in wedding-day mode.
    pub fn wedding_day(mut self, on: bool) -> Self {
        self.wedding_day = on;
        self
    }

    /// Builds the registry (no breaker exists until first used).
    pub fn build(self) -> Registry {
        Registry {
            inner: Arc::new(RegistryInner {
                default: Arc::new(self.default),
                configs: self
                    .configs
                    .into_iter()
                    .map(|(k, v)| (k, Arc::new(v)))
                    .collect(),
                breakers: RwLock::new(BTreeMap::new()),
                groups: RwLock::new(self.groups),
                clock: self
                    .clock
                    .unwrap_or_else(|| Arc::new(CoarseClock::new()) as Arc<dyn Clock>),
                sync: self.sync,
                instance: self
                    .instance
                    .unwrap_or_else(|| format!("pid-{}", std::process::id()).into()),
                wedding_day: AtomicBool::new(self.wedding_day),
                subscribers: RwLock::new(Vec::new()),
            }),
        }
    }
}

impl Registry {
    /// A builder with the default configuration.
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder {
            default: BreakerConfig::default(),
            configs: HashMap::new(),
            groups: BTreeMap::new(),
            clock: None,
            sync: None,
            instance: None,
            wedding_day: false,
        }
    }

    /// A registry whose breakers use `default`.
    pub fn new(default: BreakerConfig) -> Self {
        Self::builder().default_config(default).build()
    }

    /// This process's instance id.
    pub fn instance(&self) -> &str {
        &self.inner.instance
    }

    /// The configuration `name` gets (its own, or the default).
    pub fn config_for(&self, name: &str) -> &BreakerConfig {
        self.inner.configs.get(name).unwrap_or(&self.inner.default)
    }

    fn shared_config_for(&self, name: &str) -> &Arc<BreakerConfig> {
        self.inner.configs.get(name).unwrap_or(&self.inner.default)
    }

    /// The breaker called `name`, created on first use.
    pub fn get(&self, name: &str) -> CircuitBreaker {
        if let Some(b) = read(&self.inner.breakers).get(name) {
            return b.clone();
        }
        let mut map = write(&self.inner.breakers);
        if let Some(b) = map.get(name) {
            return b.clone();
        }
        let mut builder = CircuitBreaker::builder(name)
            .shared_config(Arc::clone(self.shared_config_for(name)))
            .clock(Arc::clone(&self.inner.clock))
            .wedding_day(self.inner.wedding_day.load(Ordering::Acquire));
        if let Some(sync) = &self.inner.sync {
            builder = builder.state_sync(Arc::clone(sync), Arc::clone(&self.inner.instance));
        }
        let b = builder.build();
        for s in read(&self.inner.subscribers).iter() {
            b.subscribe_arc(Arc::clone(s));
        }
        map.insert(Arc::clone(b.name_arc()), b.clone());
        b
    }

    /// The breaker called `name` if it exists.
    pub fn get_existing(&self, name: &str) -> Option<CircuitBreaker> {
        read(&self.inner.breakers).get(name).cloned()
    }

    /// The names of every existing breaker, sorted.
    pub fn names(&self) -> Vec<String> {
        read(&self.inner.breakers)
            .keys()
            .map(|k| k.to_string())
            .collect()
    }

    /// Every existing breaker, sorted by name.
    pub fn breakers(&self) -> Vec<CircuitBreaker> {
        read(&self.inner.breakers).values().cloned().collect()
    }

    /// The metrics of every existing breaker, sorted by name (what the admin API lists).
    pub fn metrics(&self) -> Vec<(String, Metrics)> {
        read(&self.inner.breakers)
            .iter()
            .map(|(n, b)| (n.to_string(), b.metrics()))
            .collect()
    }

    /// Calls `f` with every event of every breaker, present and future.
    pub fn subscribe(&self, f: impl Fn(&Event) + Send + Sync + 'static) {
        let f: Subscriber = Arc::new(f);
        // Same lock order as `get` (breakers, then subscribers): no breaker is created in between
        // without the subscriber, and the two cannot deadlock.
        let breakers = write(&self.inner.breakers);
        write(&self.inner.subscribers).push(Arc::clone(&f));
        for b in breakers.values() {
            b.subscribe_arc(Arc::clone(&f));
        }
    }

    /// Switches wedding-day mode on every breaker, present and future.
    pub fn set_wedding_day(&self, on: bool) {
        self.inner.wedding_day.store(on, Ordering::Release);
        for b in self.breakers() {
            b.set_wedding_day(on);
        }
    }

    /// Whether the registry is in wedding-day mode (breakers may have been switched one by one).
    pub fn is_wedding_day(&self) -> bool {
        self.inner.wedding_day.load(Ordering::Acquire)
    }

    /// Adds `breaker` to `group`.
    pub fn add_to_group(&self, group: &str, breaker: &str) {
        write(&self.inner.groups)
            .entry(group.to_owned())
            .or_default()
            .insert(breaker.to_owned());
    }

    /// The names of every group.
    pub fn group_names(&self) -> Vec<String> {
        read(&self.inner.groups).keys().cloned().collect()
    }

    /// A handle acting on every member of `group` (an unknown group has no members).
    pub fn group(&self, group: &str) -> Group {
        Group {
            registry: self.clone(),
            name: group.to_owned(),
        }
    }

    /// Applies a change published by another process to the named breaker (created if needed),
    /// without publishing it again. Changes from this registry's own instance are ignored.
    pub fn apply_remote(&self, change: &SharedChange) -> RemoteApplied {
        if *change.instance == *self.inner.instance {
            return RemoteApplied::OwnInstance;
        }
        self.get(&change.breaker).apply_remote(change)
    }
}

/// A handle on a named group of breakers; every operation creates missing members first, so a
/// kill switch holds for breakers not yet used.
#[derive(Debug, Clone)]
pub struct Group {
    registry: Registry,
    name: String,
}

impl Group {
    /// The group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The members' names, sorted.
    pub fn members(&self) -> Vec<String> {
        read(&self.registry.inner.groups)
            .get(&self.name)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Every member breaker.
    pub fn breakers(&self) -> Vec<CircuitBreaker> {
        self.members()
            .iter()
            .map(|n| self.registry.get(n))
            .collect()
    }

    fn each(&self, f: impl Fn(&CircuitBreaker)) {
        for b in self.breakers() {
            f(&b);
        }
    }

    /// Kill switch: forces every member open.
    pub fn force_open(&self) {
        self.each(CircuitBreaker::force_open);
    }

    /// Opens every member for `d`.
    pub fn open_for(&self, d: Duration) {
        self.each(|b| b.open_for(d));
    }

    /// Closes every member.
    pub fn close(&self) {
        self.each(CircuitBreaker::close);
    }

    /// Resets every member.
    pub fn reset(&self) {
        self.each(CircuitBreaker::reset);
    }

    /// Disables every member.
    pub fn disable(&self) {
        self.each(CircuitBreaker::disable);
    }

    /// Puts every member in metrics-only mode.
    pub fn metrics_only(&self) {
        self.each(CircuitBreaker::metrics_only);
    }

    /// Switches wedding-day mode on every member.
    pub fn set_wedding_day(&self, on: bool) {
        self.each(|b| {
            b.set_wedding_day(on);
        });
    }
}
