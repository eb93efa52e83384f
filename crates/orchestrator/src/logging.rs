//! A service's `logging` (driver and options) and lifecycle hooks
//! (`post_start`, `pre_stop`) turned into the engine's [`LogConfig`] and
//! [`Hook`]s, with docker's rules for the json-file and local drivers.

use crate::error::SettingError;
use wharf_compose::{Service, ServiceHook};
use wharf_engine_api::{Hook, LogConfig, LogDriver};

/// Docker's defaults for the `local` driver.
const LOCAL_MAX_SIZE: u64 = 20 * 1024 * 1024;
const LOCAL_MAX_FILE: u32 = 5;

/// The service's log configuration, or what is wrong with it.
pub fn log_config(service: &Service) -> Result<LogConfig, SettingError> {
    let refuse = |message: String| Err(SettingError::Invalid(message));
    let Some(logging) = &service.logging else {
        return Ok(LogConfig::default());
    };
    let driver_name = logging.driver.as_deref().unwrap_or("json-file");
    let driver = match driver_name {
        "json-file" => LogDriver::JsonFile,
        "local" => LogDriver::Local,
        "none" => LogDriver::None,
        other => {
            return refuse(format!(
                "logging.driver {other:?} is not supported by wharf: use json-file, local or none"
            ))
        }
    };
    let mut config = match driver {
        LogDriver::Local => LogConfig {
            driver,
            max_size: Some(LOCAL_MAX_SIZE),
            max_file: LOCAL_MAX_FILE,
            compress: true,
        },
        _ => LogConfig {
            driver,
            ..LogConfig::default()
        },
    };
    for (key, value) in &logging.options {
        let option = || format!("logging.options.{key} ({value:?})");
        match (driver, key.as_str()) {
            (LogDriver::None, _) => {
                return refuse(format!(
                    "{}: the none logging driver takes no options",
                    option()
                ))
            }
            (_, "max-size") => {
                config.max_size = max_size(value).map_err(|e| match e {
                    SettingError::Size { source, .. } => SettingError::Size {
                        key: option(),
                        source,
                    },
                    SettingError::Invalid(message) => {
                        SettingError::Invalid(format!("{}: {message}", option()))
                    }
                    other => other,
                })?;
            }
            (_, "max-file") => {
                config.max_file = match value.trim().parse::<u32>() {
                    Ok(n) if n >= 1 => n,
                    _ => {
                        return refuse(format!(
                            "{}: max-file must be a whole number of at least 1",
                            option()
                        ))
                    }
                };
            }
            (_, "compress") => {
                config.compress = match value.trim() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return refuse(format!("{}: compress must be true or false", option())),
                };
            }
            (LogDriver::JsonFile, "labels" | "labels-regex" | "env" | "env-regex" | "tag") => {
                return refuse(format!(
                    "{}: the {key} option of the json-file driver is not supported by wharf yet: remove it",
                    option()
                ))
            }
            _ => {
                return refuse(format!(
                    "{}: unknown option for the {driver_name} logging driver (wharf knows max-size, max-file and compress)",
                    option()
                ))
            }
        }
    }
    if config.max_size.is_none() && driver == LogDriver::JsonFile {
        if config.max_file > 1 {
            return refuse(
                "logging.options.max-file cannot be greater than 1 when max-size is not set: set max-size too".into(),
            );
        }
        if config.compress {
            return refuse(
                "logging.options.compress cannot be true when max-size is not set: set max-size too"
                    .into(),
            );
        }
    }
    Ok(config)
}

/// `max-size`: a size as docker writes it (`10m`, `512k`, see
/// [`wharf_units::parse_bytes`]), or `-1` for no limit.
fn max_size(text: &str) -> Result<Option<u64>, SettingError> {
    if text.trim() == "-1" {
        return Ok(None);
    }
    match wharf_units::parse_bytes(text) {
        Ok(0) => Err(SettingError::invalid(format!(
            "{text:?} must be more than 0 bytes, or -1 for no limit"
        ))),
        Ok(bytes) => Ok(Some(bytes)),
        Err(source) => Err(SettingError::Size {
            key: "max-size".into(),
            source,
        }),
    }
}

/// A compose hook as the engine runs it.
pub fn hook(hook: &ServiceHook) -> Hook {
    Hook {
        command: hook.command.clone(),
        user: hook.user.clone(),
        privileged: hook.privileged,
        working_dir: hook.working_dir.clone(),
        env: hook
            .environment
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
    }
}

/// Hooks must have a command.
pub fn validate_hooks(service: &Service) -> Result<(), SettingError> {
    for (attribute, hooks) in [
        ("post_start", &service.post_start),
        ("pre_stop", &service.pre_stop),
    ] {
        if let Some(index) = hooks.iter().position(|h| h.command.is_empty()) {
            return Err(SettingError::invalid(format!(
                "{attribute}[{index}] has no command: give it one, e.g. command: [\"sh\", \"-c\", \"…\"]"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use wharf_compose::Logging;

    fn service(driver: Option<&str>, options: &[(&str, &str)]) -> Service {
        Service {
            logging: Some(Logging {
                driver: driver.map(str::to_string),
                options: options
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
            }),
            ..Service::default()
        }
    }

    #[test]
    fn max_size_takes_docker_units_and_minus_one() {
        assert_eq!(max_size("100").unwrap(), Some(100));
        assert_eq!(max_size("10MB").unwrap(), Some(10 * 1024 * 1024));
        assert_eq!(max_size("1.5k").unwrap(), Some(1536));
        assert_eq!(max_size("-1").unwrap(), None);
        let err = max_size("10x").unwrap_err();
        assert!(matches!(err, SettingError::Size { .. }), "{err}");
        assert!(err.to_string().contains("invalid size"), "{err}");
        assert!(max_size("0")
            .unwrap_err()
            .to_string()
            .contains("more than 0"));
    }

    #[test]
    fn json_file_options_become_rotation_settings() {
        let config = log_config(&service(
            Some("json-file"),
            &[
                ("max-size", "100k"),
                ("max-file", "3"),
                ("compress", "true"),
            ],
        ))
        .unwrap();
        assert_eq!(
            config,
            LogConfig {
                driver: LogDriver::JsonFile,
                max_size: Some(100 * 1024),
                max_file: 3,
                compress: true,
            }
        );
        assert!(log_config(&service(None, &[])).unwrap().is_default());
    }

    #[test]
    fn local_has_docker_defaults_and_none_takes_nothing() {
        let local = log_config(&service(Some("local"), &[])).unwrap();
        assert_eq!(
            (local.max_size, local.max_file, local.compress),
            (Some(20 << 20), 5, true)
        );
        let none = log_config(&service(Some("none"), &[])).unwrap();
        assert_eq!(none.driver, LogDriver::None);
        assert!(log_config(&service(Some("none"), &[("max-size", "1m")])).is_err());
    }

    #[test]
    fn unsupported_drivers_and_options_are_named() {
        let err = log_config(&service(Some("syslog"), &[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"syslog\" is not supported"), "{err}");
        let err = log_config(&service(Some("json-file"), &[("tag", "x")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("logging.options.tag"), "{err}");
        let err = log_config(&service(Some("json-file"), &[("max-file", "3")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("max-size is not set"), "{err}");
        let err = log_config(&service(Some("json-file"), &[("max-file", "0")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 1"), "{err}");
        let err = log_config(&service(Some("local"), &[("mode", "x")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown option"), "{err}");
    }
}
