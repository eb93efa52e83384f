//! The Engine API's networks endpoints: list (docker's filters), inspect,
//! create (Driver bridge, Internal, IPAM config, Labels, EnableIPv6,
//! Attachable), delete, connect (EndpointConfig aliases and IPAMConfig),
//! disconnect and prune, over the core's network operations.

use crate::backend::Backend;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Request;
use crate::router::Handler;
use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use wharf_app::networks;
use wharf_engine_api::Engine;

/// The handler for `method` on `path`, if this module serves it.
pub fn route(method: &Method, path: &[&str]) -> Option<Handler> {
    match (method, path) {
        (&Method::GET, ["networks"]) => Some(list),
        (&Method::POST, ["networks", "create"]) => Some(create),
        (&Method::POST, ["networks", "prune"]) => Some(prune),
        (&Method::GET, ["networks", _]) => Some(inspect),
        (&Method::DELETE, ["networks", _]) => Some(delete),
        (&Method::POST, ["networks", _, "connect"]) => Some(connect),
        (&Method::POST, ["networks", _, "disconnect"]) => Some(disconnect),
        _ => None,
    }
}

fn list(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let found = networks::list(&backend.engine, &crate::volumes::filters(&request)?)?;
    let containers = backend.engine.list_containers(&[])?;
    let documents: Vec<_> = found
        .iter()
        .map(|n| networks::inspect_document(n, &containers))
        .collect();
    Ok(Reply::ok(json!(documents)))
}

fn inspect(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let network = networks::lookup(&backend.engine, request.segment(1))?;
    let containers = backend.engine.list_containers(&[])?;
    Ok(Reply::ok(networks::inspect_document(&network, &containers)))
}

/// docker's `IPAM` of a create body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IpamBody {
    #[serde(default)]
    driver: Option<String>,
    #[serde(default)]
    config: Option<Vec<IpamPool>>,
    #[serde(default)]
    options: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IpamPool {
    #[serde(default)]
    subnet: Option<String>,
    #[serde(default, rename = "IPRange")]
    ip_range: Option<String>,
    #[serde(default)]
    gateway: Option<String>,
    #[serde(default)]
    auxiliary_addresses: Option<BTreeMap<String, String>>,
}

/// docker's `NetworkCreateRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct CreateBody {
    name: String,
    #[serde(default)]
    check_duplicate: Option<bool>,
    #[serde(default)]
    driver: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    internal: bool,
    #[serde(default)]
    attachable: bool,
    #[serde(default)]
    ingress: bool,
    #[serde(default, rename = "IPAM")]
    ipam: Option<IpamBody>,
    #[serde(default, rename = "EnableIPv6")]
    enable_ipv6: Option<bool>,
    #[serde(default)]
    options: Option<BTreeMap<String, String>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    config_only: bool,
    #[serde(default)]
    config_from: Option<serde_json::Value>,
}

/// The core's create options for `body`; what wharf cannot honour is a 400
/// naming the field.
fn create_options(body: CreateBody) -> Result<networks::CreateOptions, ApiError> {
    let refuse = |field: &str, why: &str| {
        Err(ApiError::bad_request(format!(
            "{field} is not supported by wharf: {why}"
        )))
    };
    if body.ingress {
        return refuse("Ingress", "wharf has no swarm");
    }
    if body.config_only || body.config_from.is_some() {
        return refuse("ConfigOnly/ConfigFrom", "wharf has no swarm");
    }
    if body
        .scope
        .as_deref()
        .is_some_and(|s| s != "local" && !s.is_empty())
    {
        return refuse("Scope", "wharf's networks are local");
    }
    let _ = (body.check_duplicate, body.attachable);
    let ipam = body.ipam.unwrap_or_default();
    if ipam
        .driver
        .as_deref()
        .is_some_and(|d| d != "default" && !d.is_empty())
    {
        return refuse("IPAM.Driver", "wharf allocates addresses itself (default)");
    }
    if ipam.options.as_ref().is_some_and(|o| !o.is_empty()) {
        return refuse("IPAM.Options", "the default IPAM driver takes none");
    }
    let mut options = networks::CreateOptions {
        name: body.name,
        driver: body
            .driver
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "bridge".into()),
        ipv6: body.enable_ipv6.unwrap_or(false),
        options: body.options.unwrap_or_default(),
        internal: body.internal,
        labels: body.labels.unwrap_or_default(),
        ..networks::CreateOptions::default()
    };
    for pool in ipam.config.unwrap_or_default() {
        options
            .subnets
            .extend(pool.subnet.filter(|s| !s.is_empty()));
        options
            .gateways
            .extend(pool.gateway.filter(|s| !s.is_empty()));
        options
            .ip_ranges
            .extend(pool.ip_range.filter(|s| !s.is_empty()));
        options
            .aux_addresses
            .extend(pool.auxiliary_addresses.unwrap_or_default());
    }
    Ok(options)
}

fn create(backend: &Backend, mut request: Request) -> Result<Reply, ApiError> {
    let body: CreateBody = request.json()?;
    if body.name.is_empty() {
        return Err(ApiError::bad_request(
            "Name is required: give the network a name",
        ));
    }
    let id = networks::create(&backend.engine, &create_options(body)?)?;
    Ok(Reply::json(
        StatusCode::CREATED,
        &json!({ "Id": id, "Warning": "" }),
    ))
}

fn delete(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    networks::remove(&backend.engine, request.segment(1), false)?;
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

fn prune(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let report = networks::prune(&backend.engine, &crate::volumes::filters(&request)?)?;
    // As docker's daemon, a network it could not remove is only logged.
    for failure in &report.failures {
        eprintln!("wharf system service: network prune: {failure}");
    }
    Ok(Reply::ok(json!({ "NetworksDeleted": report.removed })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EndpointIpam {
    #[serde(default, rename = "IPv4Address")]
    ipv4_address: Option<String>,
    #[serde(default, rename = "IPv6Address")]
    ipv6_address: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EndpointConfig {
    #[serde(default, rename = "IPAMConfig")]
    ipam_config: Option<EndpointIpam>,
    #[serde(default)]
    aliases: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConnectBody {
    container: String,
    #[serde(default)]
    endpoint_config: Option<EndpointConfig>,
}

/// The core's connect options for an `EndpointConfig`; an address that does
/// not parse is a 400 naming the field.
fn connect_options(endpoint: EndpointConfig) -> Result<networks::ConnectOptions, ApiError> {
    let ipam = endpoint.ipam_config.unwrap_or_default();
    Ok(networks::ConnectOptions {
        aliases: endpoint.aliases.unwrap_or_default(),
        ipv4_address: parse_address("IPv4Address", ipam.ipv4_address)?,
        ipv6_address: parse_address("IPv6Address", ipam.ipv6_address)?,
    })
}

fn parse_address<A: std::str::FromStr>(
    field: &str,
    text: Option<String>,
) -> Result<Option<A>, ApiError> {
    text.filter(|t| !t.is_empty())
        .map(|t| {
            t.parse().map_err(|_| {
                ApiError::bad_request(format!(
                    "EndpointConfig.IPAMConfig.{field}: {t:?} is not an address"
                ))
            })
        })
        .transpose()
}

fn connect(backend: &Backend, mut request: Request) -> Result<Reply, ApiError> {
    let body: ConnectBody = request.json()?;
    let network = networks::lookup(&backend.engine, request.segment(1))?;
    let options = connect_options(body.endpoint_config.unwrap_or_default())?;
    networks::connect(&backend.engine, &network.name, &body.container, options)?;
    Ok(Reply::empty(StatusCode::OK))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DisconnectBody {
    container: String,
    #[serde(default)]
    force: bool,
}

fn disconnect(backend: &Backend, mut request: Request) -> Result<Reply, ApiError> {
    let body: DisconnectBody = request.json()?;
    let network = networks::lookup(&backend.engine, request.segment(1))?;
    networks::disconnect(&backend.engine, &network.name, &body.container, body.force)?;
    Ok(Reply::empty(StatusCode::OK))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::parse_json;

    #[test]
    fn a_create_body_becomes_the_cores_options() {
        let body: CreateBody = parse_json(
            br#"{"Name":"front","Driver":"bridge","Internal":true,"EnableIPv6":true,
                "IPAM":{"Driver":"default","Config":[{"Subnet":"10.5.0.0/24","Gateway":"10.5.0.1"},
                {"Subnet":"fd00:5::/64"}]},"Labels":{"a":"b"},"Attachable":true}"#,
        )
        .unwrap();
        let options = create_options(body).unwrap();
        assert_eq!(options.subnets, ["10.5.0.0/24", "fd00:5::/64"]);
        assert_eq!(options.gateways, ["10.5.0.1"]);
        assert!(options.internal && options.ipv6);
        assert_eq!(options.labels["a"], "b");
        networks::create_spec(&options).unwrap();
    }

    #[test]
    fn what_wharf_cannot_honour_is_refused_by_field() {
        for (body, field) in [
            (r#"{"Name":"n","Ingress":true}"#, "Ingress"),
            (r#"{"Name":"n","Scope":"swarm"}"#, "Scope"),
            (r#"{"Name":"n","IPAM":{"Driver":"dhcp"}}"#, "IPAM.Driver"),
        ] {
            let body: CreateBody = parse_json(body.as_bytes()).unwrap();
            let error = create_options(body).unwrap_err();
            assert_eq!(error.status(), StatusCode::BAD_REQUEST);
            assert!(error.to_string().contains(field), "{error}");
        }
        assert!(parse_json::<CreateBody>(br#"{"Name":"n","Bogus":1}"#).is_err());
    }

    #[test]
    fn connect_reads_aliases_and_addresses() {
        let body: ConnectBody = parse_json(
            br#"{"Container":"web","EndpointConfig":{"Aliases":["api"],"IPAMConfig":{"IPv4Address":"10.5.0.9"}}}"#,
        )
        .unwrap();
        let options = connect_options(body.endpoint_config.unwrap()).unwrap();
        assert_eq!(options.aliases, ["api"]);
        assert_eq!(options.ipv4_address, Some("10.5.0.9".parse().unwrap()));
        let bad = EndpointConfig {
            ipam_config: Some(EndpointIpam {
                ipv4_address: Some("nope".into()),
                ipv6_address: None,
            }),
            aliases: None,
        };
        assert!(connect_options(bad)
            .unwrap_err()
            .to_string()
            .contains("IPv4Address"));
    }
}
