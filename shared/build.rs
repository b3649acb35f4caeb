//! Rebuilds this crate when a migration file is added, changed or removed: the SQL is
//! embedded by `refinery::embed_migrations!`, which cargo cannot see through.

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
