//! Database -> data source: the data sources a database object (`GET /v1/databases/{id}`) lists,
//! and the one the sync uses. Pure: no I/O.
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clients::notion::error::{malformed, MappingError};

/// A data source of a database, as listed by `GET /v1/databases/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataSourceRef {
    pub id: String,
    pub name: String,
}

impl std::fmt::Display for DataSourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\"{}\" ({})", self.name, self.id)
    }
}

pub(crate) fn list_refs(refs: &[DataSourceRef]) -> String {
    refs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// The data sources listed by a database object (`GET /v1/databases/{id}`).
pub fn data_sources_of_database(database: &Value) -> Result<Vec<DataSourceRef>, MappingError> {
    let list = database.get("data_sources").and_then(Value::as_array).ok_or_else(|| {
        malformed("a database", "it has no `data_sources` list; the request must send `Notion-Version: 2025-09-03` or later (NOTION_VERSION)")
    })?;
    Ok(list
        .iter()
        .filter_map(|item| {
            let id = item.get("id").and_then(Value::as_str)?;
            let name = item.get("name").and_then(Value::as_str).unwrap_or("");
            Some(DataSourceRef { id: id.to_string(), name: name.to_string() })
        })
        .collect())
}

/// The id of the database's only data source; none or several -> an error (several: naming them
/// all and asking for `NOTION_DATA_SOURCE_ID`).
pub fn data_source_id_from_database(database: &Value) -> Result<String, MappingError> {
    let database_id = database.get("id").and_then(Value::as_str).unwrap_or("(unknown)").to_string();
    let mut sources = data_sources_of_database(database)?;
    match sources.len() {
        0 => Err(MappingError::NoDataSource { database_id }),
        1 => Ok(sources.remove(0).id),
        _ => Err(MappingError::SeveralDataSources { database_id, data_sources: sources }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::clients::notion::fixtures::fixture;

    #[test]
    fn database_with_zero_one_or_two_data_sources() {
        assert_eq!(data_source_id_from_database(&fixture("database")).unwrap(), "1e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b");

        let mut none = fixture("database");
        none["data_sources"] = json!([]);
        let err = data_source_id_from_database(&none).unwrap_err();
        assert!(matches!(err, MappingError::NoDataSource { .. }));
        assert!(err.to_string().contains("NOTION_DATABASE_ID"));

        let err = data_source_id_from_database(&fixture("database_two_sources")).unwrap_err();
        let message = err.to_string();
        for needle in [
            "1e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b",
            "c174b72c-d782-432f-8dc0-b647e1c96df6",
            "\"Decision vault\"",
            "\"Archive 2024\"",
            "NOTION_DATA_SOURCE_ID",
            "2 data sources",
        ] {
            assert!(message.contains(needle), "{needle} missing from {message}");
        }

        let mut old_api = fixture("database");
        old_api.as_object_mut().unwrap().remove("data_sources");
        assert!(matches!(data_source_id_from_database(&old_api), Err(MappingError::Malformed { .. })));
    }
}
