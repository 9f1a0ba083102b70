//! `wedsync-webhooks`: sign and verify provider webhooks from the command line.
fn main() {}
