//! Property: random interleavings of receive, claim, complete, fail and lease expiry across several
//! workers never lose a delivery and never let two workers hold one attempt.
#![cfg(feature = "conformance")]

use proptest::prelude::*;
use wedsync_webhooks::store::conformance::{interleaving, Op};
use wedsync_webhooks::store::InMemoryStore;

fn op() -> impl Strategy<Value = Op> {
    let w = 0u8..4;
    prop_oneof![
        3 => (0u8..10).prop_map(Op::Receive),
        2 => (w.clone(), 1u8..4).prop_map(|(worker, limit)| Op::Claim { worker, limit }),
        2 => (w.clone(), any::<u8>()).prop_map(|(worker, pick)| Op::Complete { worker, pick }),
        2 => (w, any::<u8>(), proptest::option::weighted(0.8, 0u16..120))
            .prop_map(|(worker, pick, retry_secs)| Op::Fail { worker, pick, retry_secs }),
        2 => (0u16..45).prop_map(Op::Advance),
        1 => Just(Op::Reclaim),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn queue_never_loses_or_double_leases(ops in proptest::collection::vec(op(), 1..120)) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(interleaving(&InMemoryStore::new(), &ops));
    }
}
