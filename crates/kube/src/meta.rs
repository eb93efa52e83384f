//! Object metadata: the `app.kubernetes.io/*` labels, the Compose labels
//! kept as labels, the namespace, and the selector that ties a service's pods
//! to its Services and policies.

use crate::names;
use serde_json::{json, Map, Value};

/// Label keys of the Compose project and service (docker compose's own).
pub const COMPOSE_PROJECT: &str = "com.docker.compose.project";
pub const COMPOSE_SERVICE: &str = "com.docker.compose.service";
/// The label a pod carries for each Compose network it joins (`…network.<key>`).
pub const NETWORK_LABEL_PREFIX: &str = "com.docker.compose.network.";

/// What every object of one project shares.
#[derive(Debug, Clone)]
pub struct Meta {
    /// The project name as a label value.
    pub project: String,
    pub namespace: Option<String>,
}

impl Meta {
    /// Labels of an object that belongs to `service` (Compose name and its
    /// Kubernetes name), or to the whole project when `None`.
    pub fn labels(&self, service: Option<(&str, &str)>, name: &str) -> Map<String, Value> {
        let mut l = Map::new();
        l.insert("app.kubernetes.io/name".into(), json!(name));
        l.insert("app.kubernetes.io/instance".into(), json!(self.project));
        l.insert("app.kubernetes.io/managed-by".into(), json!("wharf"));
        l.insert(COMPOSE_PROJECT.into(), json!(self.project));
        if let Some((compose, k8s)) = service {
            l.insert("app.kubernetes.io/component".into(), json!(k8s));
            l.insert(COMPOSE_SERVICE.into(), json!(names::label_value(compose)));
        }
        l
    }

    /// The pods of one service.
    pub fn selector(&self, k8s_service: &str) -> Map<String, Value> {
        let mut l = Map::new();
        l.insert("app.kubernetes.io/instance".into(), json!(self.project));
        l.insert("app.kubernetes.io/component".into(), json!(k8s_service));
        l
    }

    /// `metadata` of an object named `name`.
    pub fn metadata(&self, name: &str, labels: Map<String, Value>) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(name));
        if let Some(ns) = &self.namespace {
            m.insert("namespace".into(), json!(ns));
        }
        m.insert("labels".into(), Value::Object(labels));
        Value::Object(m)
    }

    /// A whole object: `apiVersion`, `kind`, `metadata`, then `rest`'s keys.
    pub fn object(
        &self,
        api_version: &str,
        kind: &str,
        name: &str,
        labels: Map<String, Value>,
        rest: Value,
    ) -> Value {
        let mut o = Map::new();
        o.insert("apiVersion".into(), json!(api_version));
        o.insert("kind".into(), json!(kind));
        o.insert("metadata".into(), self.metadata(name, labels));
        if let Value::Object(rest) = rest {
            o.extend(rest);
        }
        Value::Object(o)
    }
}
