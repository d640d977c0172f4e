//! The JSON a search or facet request gets back, as `ICATRest.searchDocuments` and
//! `facetDocuments` write it: `search_after`, `dimensions` (labels in the server's order, plain
//! counts or `{from, to, count}` ranges) and `results` (`id`, `score`, `source` document).

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// The answer to a `search/documents` request.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct SearchAnswer {
    /// Where the next page starts (pass it back as is); absent when there are no more hits.
    #[serde(default)]
    pub search_after: Option<Value>,
    /// Facet counts over the returned hits, when the query asked for facets.
    #[serde(default)]
    pub dimensions: Dimensions,
    /// The hits, best first (or in the requested sort order).
    #[serde(default)]
    pub results: Vec<Hit>,
}

/// The answer to a `facet/documents` request.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct FacetAnswer {
    /// The counts.
    #[serde(default)]
    pub dimensions: Dimensions,
}

/// One hit.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Hit {
    /// The entity id (ICAT ids are positive: another is a lying answer, refused when decoded).
    #[serde(deserialize_with = "positive_id")]
    pub id: i64,
    /// Relevance (absent when sorted by fields).
    #[serde(default)]
    pub score: Option<f64>,
    /// The indexed document (server text: untrusted).
    #[serde(default)]
    pub source: Document,
}

/// An entity id as ICAT hands them out (from 1 up); zero or negative is not an ICAT answer.
fn positive_id<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let id = i64::deserialize(d)?;
    if id <= 0 {
        return Err(serde::de::Error::custom(format!(
            "hit id {id} is not an ICAT id (ids are positive)"
        )));
    }
    Ok(id)
}

/// An indexed document: the fields ICAT indexes for the entity (`name`, `visitId`, `title`,
/// `fileSize`, `fileCount`, `date`, `dataset.name`, `investigation.id`, ...). Values are kept as
/// the server sent them; the accessors accept a number or a numeric string.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Document(pub serde_json::Map<String, Value>);

impl Document {
    /// A text field.
    pub fn text(&self, field: &str) -> Option<&str> {
        self.0.get(field).and_then(Value::as_str)
    }

    /// An integer field (a number, or a string holding one).
    pub fn int(&self, field: &str) -> Option<i64> {
        match self.0.get(field)? {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// `name`.
    pub fn name(&self) -> Option<&str> {
        self.text("name")
    }

    /// `visitId` (the investigation's visit, on every target).
    pub fn visit_id(&self) -> Option<&str> {
        self.text("visitId")
    }

    /// `title` (investigations), `investigation.title` (datasets).
    pub fn title(&self) -> Option<&str> {
        self.text("title")
            .or_else(|| self.text("investigation.title"))
    }

    /// `investigation.name`, or `name` of an investigation document.
    pub fn investigation_name(&self) -> Option<&str> {
        self.text("investigation.name")
    }

    /// `investigation.id`.
    pub fn investigation_id(&self) -> Option<i64> {
        self.int("investigation.id")
    }

    /// `dataset.name` (datafiles).
    pub fn dataset_name(&self) -> Option<&str> {
        self.text("dataset.name")
    }

    /// `dataset.id` (datafiles).
    pub fn dataset_id(&self) -> Option<i64> {
        self.int("dataset.id")
    }

    /// `fileSize` in bytes (a datafile's size, or the total of a dataset or investigation).
    pub fn file_size(&self) -> Option<i64> {
        self.int("fileSize")
    }

    /// `fileCount`.
    pub fn file_count(&self) -> Option<i64> {
        self.int("fileCount")
    }

    /// `date` (or `startDate`) in milliseconds since the Unix epoch.
    pub fn date_millis(&self) -> Option<i64> {
        self.int("date").or_else(|| self.int("startDate"))
    }
}

/// Facet dimensions, keyed `Target.dimension` (e.g. `InvestigationInstrument.instrument.name`),
/// each with its labels in the order the server gave them.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Dimensions(pub Vec<Dimension>);

/// One facet dimension.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Dimension {
    /// `Target.dimension`.
    pub key: String,
    /// The labels and counts.
    pub labels: Vec<FacetLabel>,
}

/// One label of a dimension.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FacetLabel {
    /// The value (or range key).
    pub label: String,
    /// How many documents have it.
    pub count: u64,
    /// A range's lower bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Value>,
    /// A range's upper bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Value>,
}

impl Dimensions {
    /// True when no dimension came back.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The dimension with this key.
    pub fn get(&self, key: &str) -> Option<&Dimension> {
        self.0.iter().find(|d| d.key == key)
    }
}

impl<'de> Deserialize<'de> for Dimensions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(DimensionsVisitor)
    }
}

struct DimensionsVisitor;

impl<'de> Visitor<'de> for DimensionsVisitor {
    type Value = Dimensions;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of facet dimensions")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Dimensions, A::Error> {
        let mut out = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let Labels(labels) = map.next_value()?;
            out.push(Dimension { key, labels });
        }
        Ok(Dimensions(out))
    }
}

/// The labels of one dimension, in order.
struct Labels(Vec<FacetLabel>);

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Labels;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of facet labels and counts")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Labels, A::Error> {
                let mut out = Vec::new();
                while let Some(label) = map.next_key::<String>()? {
                    let v: Value = map.next_value()?;
                    let (count, from, to) = match v {
                        Value::Number(n) => (n.as_u64(), None, None),
                        Value::Object(mut o) => (
                            o.get("count").and_then(Value::as_u64),
                            o.remove("from"),
                            o.remove("to"),
                        ),
                        _ => (None, None, None),
                    };
                    let count = count.ok_or_else(|| {
                        serde::de::Error::custom(format!(
                            "facet label {:?} has no count",
                            label.chars().take(60).collect::<String>()
                        ))
                    })?;
                    out.push(FacetLabel {
                        label,
                        count,
                        from,
                        to,
                    });
                }
                Ok(Labels(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    /// Review finding 8: a tied score must come back exactly as the server wrote it, or the
    /// `search_after` sent back falls below the tied hits and they are skipped (or repeated).
    #[test]
    fn scores_and_search_after_round_trip_exactly() {
        for text in [
            "1.9089175147275106",
            "1.9131412529950222",
            "2.659435086336173",
        ] {
            let answer: SearchAnswer = serde_json::from_str(&format!(
                r#"{{"search_after":[{text},496],"results":[{{"id":1,"score":{text}}}]}}"#
            ))
            .unwrap();
            let exact: f64 = text.parse().unwrap();
            assert_eq!(answer.results[0].score, Some(exact), "{text}");
            assert_eq!(
                answer.search_after.unwrap().to_string(),
                format!("[{text},496]"),
                "{text}"
            );
        }
    }

    #[test]
    fn a_hit_id_below_one_is_refused() {
        for bad in [r#"{"results":[{"id":-5}]}"#, r#"{"results":[{"id":0}]}"#] {
            let e = serde_json::from_str::<SearchAnswer>(bad).unwrap_err();
            assert!(e.to_string().contains("is not an ICAT id"), "{e}");
        }
        let ok: SearchAnswer = serde_json::from_str(r#"{"results":[{"id":7}]}"#).unwrap();
        assert_eq!(ok.results[0].id, 7);
    }

    use super::*;

    #[test]
    fn reads_icat_answers_keeping_label_order() {
        let a: SearchAnswer = serde_json::from_str(
            r#"{"search_after":{"doc":7,"shardIndex":0,"score":1.5,"fields":[]},
                "dimensions":{"InvestigationInstrument.instrument.name":{"ZOOM":3,"ALF":5}},
                "results":[{"id":42,"score":1.5,"source":{"name":"f.nxs","fileSize":"2048",
                 "dataset.id":7,"dataset.name":"run1","visitId":"V1","date":1700000000000}},
                 {"id":43,"source":{}}]}"#,
        )
        .unwrap();
        let d = a
            .dimensions
            .get("InvestigationInstrument.instrument.name")
            .unwrap();
        assert_eq!(
            d.labels
                .iter()
                .map(|l| (l.label.as_str(), l.count))
                .collect::<Vec<_>>(),
            [("ZOOM", 3), ("ALF", 5)]
        );
        let h = &a.results[0];
        assert_eq!((h.id, h.score), (42, Some(1.5)));
        assert_eq!(h.source.file_size(), Some(2048));
        assert_eq!(h.source.dataset_id(), Some(7));
        assert_eq!(h.source.visit_id(), Some("V1"));
        assert_eq!(h.source.date_millis(), Some(1_700_000_000_000));
        assert_eq!(a.results[1].score, None);
        assert!(a.search_after.is_some());

        let f: FacetAnswer = serde_json::from_str(
            r#"{"dimensions":{"Datafile.fileSize":{"small":{"from":0,"to":1000,"count":4}}}}"#,
        )
        .unwrap();
        let l = &f.dimensions.0[0].labels[0];
        assert_eq!((l.label.as_str(), l.count), ("small", 4));
        assert_eq!(l.to, Some(serde_json::json!(1000)));
        let empty: SearchAnswer = serde_json::from_str("{}").unwrap();
        assert!(empty.results.is_empty() && empty.dimensions.is_empty());
        assert!(serde_json::from_str::<FacetAnswer>(r#"{"dimensions":{"a":{"b":"x"}}}"#).is_err());
    }
}
