//! HTTP routes, one module per resource; [`crate::app::router`] mounts them.

pub mod admin;
pub mod auth;
pub mod dashboard;
pub mod fallback;
pub mod files;
pub mod health;
pub mod jobs;
pub mod maintenance;
pub mod market;
pub mod me;
pub mod usage;
pub mod validate;

#[cfg(test)]
mod tests {
    /// Every route the router mounts is documented in `docs/openapi.yaml`.
    #[test]
    fn every_route_is_in_the_openapi_spec() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let app = std::fs::read_to_string(root.join("api/src/app.rs")).unwrap();
        let spec = std::fs::read_to_string(root.join("docs/openapi.yaml")).unwrap();
        let mut checked = 0;
        for piece in app.split(".route(").skip(1) {
            let path = piece.split('"').nth(1).unwrap();
            let full = if matches!(path, "/healthz" | "/readyz" | "/metrics") {
                path.to_owned()
            } else {
                format!("/api/v1{path}")
            };
            assert!(
                spec.contains(&format!("\n  {full}:\n")),
                "{full} is not in docs/openapi.yaml"
            );
            checked += 1;
        }
        assert!(checked > 20, "found only {checked} routes");
    }
}
