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
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    use yaml_rust2::{Yaml, YamlLoader};

    fn repo_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    fn spec() -> Yaml {
        let text = std::fs::read_to_string(repo_root().join("docs/openapi.yaml")).unwrap();
        let mut docs = YamlLoader::load_from_str(&text).expect("docs/openapi.yaml is valid YAML");
        docs.remove(0)
    }

    /// The spec documents exactly the routes the router mounts.
    #[test]
    fn the_openapi_spec_documents_exactly_the_mounted_routes() {
        let app = std::fs::read_to_string(repo_root().join("api/src/app.rs")).unwrap();
        let mounted: BTreeSet<String> = app
            .split(".route(")
            .skip(1)
            .map(|piece| {
                let path = piece.split('"').nth(1).unwrap();
                if matches!(path, "/healthz" | "/readyz" | "/metrics") {
                    path.to_owned()
                } else {
                    format!("/api/v1{path}")
                }
            })
            .collect();
        let documented: BTreeSet<String> = spec()["paths"]
            .as_hash()
            .expect("paths")
            .keys()
            .map(|k| k.as_str().unwrap().to_owned())
            .collect();
        assert!(mounted.len() > 20, "found only {} routes", mounted.len());
        assert_eq!(mounted, documented);
    }

    /// The spec's job kinds are the kinds this build accepts.
    #[test]
    fn the_openapi_spec_lists_every_job_kind() {
        let spec = spec();
        let kinds: BTreeSet<&str> = spec["paths"]["/api/v1/jobs"]["post"]["requestBody"]["content"]
            ["application/json"]["schema"]["properties"]["kind"]["enum"]
            .as_vec()
            .expect("kind enum")
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        let known: BTreeSet<&str> = fairlane_shared::jobs::kinds::KINDS
            .iter()
            .map(|k| k.name)
            .collect();
        assert_eq!(kinds, known);
    }
}
