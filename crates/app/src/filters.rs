//! docker's listing filters as every front receives them — `--filter
//! KEY=VALUE` flags on the command line, `filters={"KEY":["VALUE"]}` in the
//! Engine API — read into one [`Filters`] list that the object listings
//! (images, volumes, networks) interpret by key.

use std::collections::BTreeMap;

/// A filter that cannot be read or applied; the message says which and what
/// to give instead.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    #[error("bad filter {text:?}: expected KEY=VALUE such as {example}")]
    NotKeyValue { text: String, example: &'static str },
    #[error("bad filter \"{key}={value}\": {key} takes true or false")]
    NotBool { key: String, value: String },
    #[error("unsupported filter {key:?}: wharf supports {supported}")]
    Unsupported {
        key: String,
        supported: &'static str,
    },
    #[error(
        "invalid filters JSON: {reason}: give an object such as {{\"label\":[\"KEY=VALUE\"]}}"
    )]
    Json { reason: String },
}

/// One `KEY=VALUE` filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub key: String,
    pub value: String,
}

/// Filters in the order given; a listing keeps what passes all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters(pub Vec<Filter>);

impl Filters {
    /// `--filter KEY=VALUE` flags; `example` completes the error of one
    /// without `=` (`dangling=true`).
    pub fn from_flags(flags: &[String], example: &'static str) -> Result<Self, FilterError> {
        flags
            .iter()
            .map(|text| {
                let (key, value) =
                    text.split_once('=')
                        .ok_or_else(|| FilterError::NotKeyValue {
                            text: text.clone(),
                            example,
                        })?;
                Ok(Filter {
                    key: key.to_string(),
                    value: value.to_string(),
                })
            })
            .collect::<Result<_, _>>()
            .map(Filters)
    }

    /// The Engine API's `filters` query value: `{"KEY":["VALUE",…]}`, or the
    /// older `{"KEY":{"VALUE":true}}` that clients before API 1.22 send.
    pub fn from_api_json(text: &str) -> Result<Self, FilterError> {
        if text.trim().is_empty() {
            return Ok(Filters::default());
        }
        let json_error = |reason: String| FilterError::Json { reason };
        let map: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|e| json_error(e.to_string()))?;
        let mut filters = Vec::new();
        for (key, values) in map {
            let values: Vec<String> = match values {
                serde_json::Value::Array(list) => list
                    .into_iter()
                    .map(|v| match v {
                        serde_json::Value::String(s) => Ok(s),
                        other => Err(json_error(format!("{key}: {other} is not a string"))),
                    })
                    .collect::<Result<_, _>>()?,
                serde_json::Value::Object(set) => set
                    .into_iter()
                    .filter(|(_, on)| on.as_bool() == Some(true))
                    .map(|(v, _)| v)
                    .collect(),
                other => {
                    return Err(json_error(format!(
                        "{key}: {other} is neither a list nor a set of values"
                    )))
                }
            };
            filters.extend(values.into_iter().map(|value| Filter {
                key: key.clone(),
                value,
            }));
        }
        Ok(Filters(filters))
    }

    /// Filters already split by key (each key with its values).
    pub fn from_map(map: &BTreeMap<String, Vec<String>>) -> Self {
        Filters(
            map.iter()
                .flat_map(|(key, values)| {
                    values.iter().map(move |value| Filter {
                        key: key.clone(),
                        value: value.clone(),
                    })
                })
                .collect(),
        )
    }

    pub fn iter(&self) -> impl Iterator<Item = &Filter> {
        self.0.iter()
    }
}

impl Filter {
    /// The value of a `true`/`false` filter (`dangling`).
    pub fn bool_value(&self) -> Result<bool, FilterError> {
        match self.value.as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(FilterError::NotBool {
                key: self.key.clone(),
                value: self.value.clone(),
            }),
        }
    }

    pub fn unsupported(&self, supported: &'static str) -> FilterError {
        FilterError::Unsupported {
            key: self.key.clone(),
            supported,
        }
    }
}

/// docker's `label=KEY` or `label=KEY=VALUE` filter against `labels`.
pub fn label_matches(labels: &BTreeMap<String, String>, value: &str) -> bool {
    let (key, want) = match value.split_once('=') {
        Some((k, want)) => (k, Some(want)),
        None => (value, None),
    };
    labels
        .get(key)
        .is_some_and(|have| want.is_none_or(|w| w == have))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_api_json_read_the_same_filters() {
        let flags =
            Filters::from_flags(&["label=a=b".into(), "dangling=true".into()], "x=y").unwrap();
        assert_eq!(flags.0[0].key, "label");
        assert_eq!(flags.0[0].value, "a=b");
        let api = Filters::from_api_json(r#"{"dangling":["true"],"label":["a=b"]}"#).unwrap();
        assert_eq!(api.0.len(), 2);
        assert!(api.0.contains(&flags.0[0]));
        let old = Filters::from_api_json(r#"{"label":{"a=b":true,"c":false}}"#).unwrap();
        assert_eq!(old.0, vec![flags.0[0].clone()]);
        assert!(Filters::from_api_json("").unwrap().0.is_empty());
    }

    #[test]
    fn bad_filters_say_what_to_give() {
        let err = Filters::from_flags(&["dangling".into()], "dangling=true").unwrap_err();
        assert_eq!(
            err.to_string(),
            "bad filter \"dangling\": expected KEY=VALUE such as dangling=true"
        );
        assert!(matches!(
            Filters::from_api_json(r#"{"label":"x"}"#),
            Err(FilterError::Json { .. })
        ));
        assert!(Filters::from_api_json("[").is_err());
        let bad = Filter {
            key: "dangling".into(),
            value: "maybe".into(),
        };
        assert_eq!(
            bad.bool_value().unwrap_err().to_string(),
            "bad filter \"dangling=maybe\": dangling takes true or false"
        );
    }

    #[test]
    fn labels_match_by_key_or_key_and_value() {
        let labels: BTreeMap<String, String> = [("a".to_string(), "1".to_string())].into();
        assert!(label_matches(&labels, "a"));
        assert!(label_matches(&labels, "a=1"));
        assert!(!label_matches(&labels, "a=2"));
        assert!(!label_matches(&labels, "b"));
    }
}
