//! The `wedsync-monitor` binary.

fn main() {
    println!("wedsync-monitor {}", env!("CARGO_PKG_VERSION"));
}
