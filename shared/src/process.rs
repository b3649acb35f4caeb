//! Process identity: a name unique to each start of a process, used as the worker id
//! and as the lock-holder name. Never reused across restarts, so a restarted process is
//! never mistaken for its previous life.

/// `<hostname>-<pid>-<random>`, e.g. `host1-4242-3f9a1c2b`.
pub fn unique_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &random[..8])
}
