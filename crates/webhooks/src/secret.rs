//! [`Secret`]: a string that never prints. It lives in the leaf crate `wedsync-secret` (shared
//! with `wedsync-probe`); this module keeps the path `wedsync_webhooks::secret::Secret`.

pub use wedsync_secret::Secret;
