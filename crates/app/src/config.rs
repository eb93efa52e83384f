//! `config`: what docker compose's `config` shows of a loaded project — the
//! canonical document (YAML or JSON), the names one of its listing flags asks
//! for (services in dependency order, volumes, networks, profiles, images),
//! or where each variable's value came from (`--explain`). Fronts load the
//! project, hand it here with [`ConfigOptions`] and write the [`ConfigOutput`].

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use wharf_compose::interpolate::Resolution;
use wharf_compose::render::{self, Format};
use wharf_compose::{Loaded, Project, VariableOrigin};

/// The document's syntax (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConfigFormat {
    #[default]
    Yaml,
    Json,
}

impl FromStr for ConfigFormat {
    type Err = ConfigError;

    fn from_str(value: &str) -> Result<Self, ConfigError> {
        match value {
            "yaml" => Ok(Self::Yaml),
            "json" => Ok(Self::Json),
            other => Err(ConfigError::UnsupportedFormat {
                value: other.to_string(),
            }),
        }
    }
}

/// What `config` is asked to show; the listing flags win over the document
/// in docker compose's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigView {
    /// The whole project in canonical form.
    Document(ConfigFormat),
    /// `--services`: service names, each after what it depends on.
    Services,
    /// `--volumes`: the volumes the services use.
    Volumes,
    /// `--networks`: the networks the services use.
    Networks,
    /// `--profiles`: every profile a service names.
    Profiles,
    /// `--images`: each service's image, or the name its build gets.
    Images,
    /// `--explain VAR…`: where each variable comes from (`*` for all).
    Explain(Vec<String>),
}

/// `config`'s options, read from the flags by the front.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigOptions {
    pub view: ConfigView,
    /// `--quiet`: the project loaded, show nothing.
    pub quiet: bool,
    /// Services to keep, with what they depend on; all when empty.
    pub services: Vec<String>,
}

impl Default for ConfigOptions {
    fn default() -> Self {
        Self {
            view: ConfigView::Document(ConfigFormat::Yaml),
            quiet: false,
            services: Vec::new(),
        }
    }
}

/// What `config` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOutput {
    /// `--quiet`: nothing.
    Nothing,
    /// The rendered document or the variables' explanation, as written.
    Text(String),
    /// Names, one a line.
    Names(Vec<String>),
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("unsupported format {value:?}: use yaml or json")]
    UnsupportedFormat { value: String },
    #[error("no such service: {service} (services: {services})")]
    NoSuchService { service: String, services: String },
}

/// The canonical document of `project` (`config`'s default output; the
/// dashboard's edit preview shows and diffs it too).
pub fn document(project: &Project, format: ConfigFormat) -> String {
    let format = match format {
        ConfigFormat::Yaml => Format::Yaml,
        ConfigFormat::Json => Format::Json,
    };
    render::render(project, format)
}

/// What `config` shows of `loaded` with `options`.
pub fn config(mut loaded: Loaded, options: &ConfigOptions) -> Result<ConfigOutput, ConfigError> {
    if options.quiet {
        return Ok(ConfigOutput::Nothing);
    }
    select(&mut loaded.project, &options.services)?;
    let project = &loaded.project;
    Ok(match &options.view {
        ConfigView::Document(format) => ConfigOutput::Text(document(project, *format)),
        ConfigView::Explain(names) => ConfigOutput::Text(explain(&loaded, names)),
        ConfigView::Services => ConfigOutput::Names(dependency_order(project)),
        ConfigView::Volumes => {
            ConfigOutput::Names(render::used(project).volumes.into_iter().collect())
        }
        ConfigView::Networks => {
            ConfigOutput::Names(render::used(project).networks.into_iter().collect())
        }
        ConfigView::Profiles => ConfigOutput::Names(loaded.profiles.iter().cloned().collect()),
        ConfigView::Images => ConfigOutput::Names(images(project)),
    })
}

/// Keeps `names` and what they depend on; an unknown name is an error.
fn select(project: &mut Project, names: &[String]) -> Result<(), ConfigError> {
    if names.is_empty() {
        return Ok(());
    }
    let mut keep: BTreeSet<String> = BTreeSet::new();
    let mut todo: Vec<String> = names.to_vec();
    while let Some(name) = todo.pop() {
        let Some(service) = project.services.get(&name) else {
            return Err(ConfigError::NoSuchService {
                service: name,
                services: crate::service_names(project),
            });
        };
        if keep.insert(name.clone()) {
            todo.extend(service.depends_on.keys().cloned());
        }
    }
    project.services.retain(|k, _| keep.contains(k));
    Ok(())
}

/// Services by name, each after what it depends on (docker compose's order).
fn dependency_order(project: &Project) -> Vec<String> {
    fn visit(p: &Project, n: &str, seen: &mut BTreeSet<String>, out: &mut Vec<String>) {
        if !seen.insert(n.to_string()) {
            return;
        }
        if let Some(s) = p.services.get(n) {
            for d in s.depends_on.keys() {
                visit(p, d, seen, out);
            }
            out.push(n.to_string());
        }
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for n in project.services.keys() {
        visit(project, n, &mut seen, &mut out);
    }
    out
}

/// Each service's image, or `PROJECT-SERVICE` for one that is only built;
/// in service-name order.
fn images(project: &Project) -> Vec<String> {
    let images: BTreeMap<&String, String> = project
        .services
        .iter()
        .map(|(n, s)| {
            let image = s
                .image
                .clone()
                .unwrap_or_else(|| format!("{}-{n}", project.name));
            (n, image)
        })
        .collect();
    images.into_values().collect()
}

/// Where each variable in `names` got its value and what each use gave.
fn explain(loaded: &Loaded, names: &[String]) -> String {
    let all = names.iter().any(|n| n == "*");
    let wanted: Vec<&str> = if all {
        loaded.variables.keys().map(String::as_str).collect()
    } else {
        names.iter().map(String::as_str).collect()
    };
    let mut out = String::new();
    for name in wanted {
        let variable = loaded.variables.get(name);
        let value = variable.and_then(|v| v.value.as_deref());
        match (value, variable.and_then(|v| v.origin.as_ref())) {
            (Some(val), Some(VariableOrigin::Shell)) => {
                out.push_str(&format!("{name}={val:?}  from the shell environment\n"))
            }
            (Some(val), Some(VariableOrigin::EnvFile(at))) => {
                out.push_str(&format!("{name}={val:?}  from {at}\n"))
            }
            _ => out.push_str(&format!("{name} is not set\n")),
        }
        let Some(variable) = variable else {
            out.push_str("  not used by the Compose files\n");
            continue;
        };
        for (at, old) in &variable.overridden {
            out.push_str(&format!("  overrides {old:?} set at {at}\n"));
        }
        for used in &variable.uses {
            let how = match &used.resolution {
                Resolution::Value(x) => format!("gives {x:?}"),
                Resolution::Default(d) => format!("unset or empty: default {d:?} used"),
                Resolution::Alternate(a) => format!("set: alternative {a:?} used"),
                Resolution::Blank => "unset: blank string used".to_string(),
            };
            out.push_str(&format!(
                "  used at {}: {}: {how}\n",
                used.location, used.path
            ));
        }
        if variable.uses.is_empty() {
            out.push_str("  not used by the Compose files\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMPOSE: &str = "\
name: demo
services:
  web:
    image: nginx:${TAG:-1.25}
    depends_on: [db]
    networks: [front, back]
    profiles: [web]
  db:
    image: postgres
    volumes: [data:/var/lib/postgresql]
    networks: [back]
  worker:
    build: .
    profiles: [jobs]
volumes:
  data: {}
networks:
  front: {}
  back: {}
";

    fn loaded(env: &[(&str, &str)]) -> Loaded {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("compose.yaml"), COMPOSE).unwrap();
        let options = wharf_compose::LoadOptions {
            cwd: dir.path().to_path_buf(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            profiles: vec!["web".into(), "jobs".into()],
            ..Default::default()
        };
        wharf_compose::load_detailed(&options, &mut std::io::empty()).unwrap()
    }

    fn show(view: ConfigView, services: &[&str]) -> Result<ConfigOutput, ConfigError> {
        let options = ConfigOptions {
            view,
            quiet: false,
            services: services.iter().map(|s| s.to_string()).collect(),
        };
        config(loaded(&[]), &options)
    }

    fn names(items: &[&str]) -> ConfigOutput {
        ConfigOutput::Names(items.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn format_accepts_yaml_and_json_and_names_the_choices_otherwise() {
        assert_eq!("yaml".parse::<ConfigFormat>().unwrap(), ConfigFormat::Yaml);
        assert_eq!("json".parse::<ConfigFormat>().unwrap(), ConfigFormat::Json);
        let error = "toml".parse::<ConfigFormat>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unsupported format \"toml\": use yaml or json"
        );
    }

    #[test]
    fn quiet_shows_nothing() {
        let options = ConfigOptions {
            quiet: true,
            ..Default::default()
        };
        assert_eq!(
            config(loaded(&[]), &options).unwrap(),
            ConfigOutput::Nothing
        );
    }

    #[test]
    fn document_is_the_canonical_rendering_in_either_format() {
        for (format, syntax) in [
            (ConfigFormat::Yaml, Format::Yaml),
            (ConfigFormat::Json, Format::Json),
        ] {
            let project = loaded(&[]);
            let expected = render::render(&project.project, syntax);
            let options = ConfigOptions {
                view: ConfigView::Document(format),
                ..Default::default()
            };
            let output = config(project, &options).unwrap();
            assert_eq!(output, ConfigOutput::Text(expected.clone()));
            match format {
                ConfigFormat::Yaml => assert!(expected.contains("image: nginx:1.25"), "{expected}"),
                ConfigFormat::Json => assert!(expected.starts_with('{'), "{expected}"),
            }
        }
    }

    #[test]
    fn services_come_after_what_they_depend_on() {
        assert_eq!(
            show(ConfigView::Services, &[]).unwrap(),
            names(&["db", "web", "worker"])
        );
    }

    #[test]
    fn selected_services_keep_their_dependencies() {
        assert_eq!(
            show(ConfigView::Services, &["web"]).unwrap(),
            names(&["db", "web"])
        );
        assert_eq!(show(ConfigView::Volumes, &["worker"]).unwrap(), names(&[]));
    }

    #[test]
    fn an_unknown_service_is_named_with_the_known_ones() {
        let error = show(ConfigView::Services, &["nope"]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "no such service: nope (services: db, web, worker)"
        );
    }

    #[test]
    fn volumes_and_networks_are_those_the_services_use() {
        assert_eq!(show(ConfigView::Volumes, &[]).unwrap(), names(&["data"]));
        assert_eq!(
            show(ConfigView::Networks, &[]).unwrap(),
            names(&["back", "default", "front"])
        );
    }

    #[test]
    fn profiles_are_every_profile_named() {
        assert_eq!(
            show(ConfigView::Profiles, &[]).unwrap(),
            names(&["jobs", "web"])
        );
    }

    #[test]
    fn images_name_a_built_service_after_the_project() {
        assert_eq!(
            show(ConfigView::Images, &[]).unwrap(),
            names(&["postgres", "nginx:1.25", "demo-worker"])
        );
    }

    #[test]
    fn explain_tells_the_source_and_each_use() {
        let options = ConfigOptions {
            view: ConfigView::Explain(vec!["TAG".into(), "UNUSED".into()]),
            ..Default::default()
        };
        let ConfigOutput::Text(text) = config(loaded(&[("TAG", "2")]), &options).unwrap() else {
            panic!("not an explanation");
        };
        assert!(
            text.starts_with("TAG=\"2\"  from the shell environment\n"),
            "{text}"
        );
        assert!(text.contains("services.web.image: gives \"2\""), "{text}");
        assert!(
            text.ends_with("UNUSED is not set\n  not used by the Compose files\n"),
            "{text}"
        );
    }
}
