//! Rebuild when a migration changes: they are embedded into the crate with `embed_migrations!`.
//! (`migrations/` in this crate is a link to the workspace's top-level `migrations/`, so the
//! package carries its own copy.)

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
