//! Kubernetes' protobuf, as much as kubectl needs: the OpenAPI v2 document kubectl 1.20
//! validates against (hand-encoded), the OpenAPI v3 stub that tells kubectl apply the server
//! validates fields itself, and a decoder for the typed objects kubectl sends as protobuf
//! (the `k8s\0` envelope, ObjectMeta, Secret, Namespace and access reviews).

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::json::JsonPath;

/// The OpenAPI v2 document kubectl 1.20 validates `apply` and `create -f` against, as the
/// protobuf (gnostic `openapi_v2.Document`) it insists on: ObjectMeta, Secret and Namespace,
/// with their group-version-kind extensions. Hand-encoded: every field used is
/// length-delimited.
#[expect(
    clippy::too_many_lines,
    reason = "a hand-encoded document, field after field, reads best in one place"
)]
pub(crate) fn openapi_v2() -> Vec<u8> {
    fn ld(field: u64, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut varint = |mut v: u64| loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        };
        varint(field << 3 | 2);
        varint(bytes.len() as u64);
        out.extend_from_slice(bytes);
        out
    }
    #[derive(Default)]
    struct Schema<'a> {
        kind: Option<&'a str>,
        reference: Option<String>,
        format: Option<&'a str>,
        properties: Option<Vec<(&'a str, Vec<u8>)>>,
        items: Option<Vec<u8>>,
        values: Option<Vec<u8>>,
        gvk: Option<&'a str>,
    }
    fn schema(s: Schema<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(r) = &s.reference {
            out.extend(ld(1, r.as_bytes()));
        }
        if let Some(f) = s.format {
            out.extend(ld(2, f.as_bytes()));
        }
        if let Some(v) = &s.values {
            out.extend(ld(21, &ld(1, v)));
        }
        if let Some(k) = s.kind {
            out.extend(ld(22, &ld(1, k.as_bytes())));
        }
        if let Some(i) = &s.items {
            out.extend(ld(23, &ld(1, i)));
        }
        if let Some(props) = &s.properties {
            let named: Vec<u8> = props
                .iter()
                .flat_map(|(name, value)| ld(1, &[ld(1, name.as_bytes()), ld(2, value)].concat()))
                .collect();
            out.extend(ld(25, &named));
        }
        if let Some(kind) = s.gvk {
            let yaml = format!("- group: \"\"\n  kind: {kind}\n  version: v1\n");
            let any = ld(2, yaml.as_bytes());
            out.extend(ld(31, &[ld(1, b"x-kubernetes-group-version-kind"), ld(2, &any)].concat()));
        }
        out
    }
    let string = || schema(Schema { kind: Some("string"), ..Schema::default() });
    let map = |values: Vec<u8>| {
        schema(Schema { kind: Some("object"), values: Some(values), ..Schema::default() })
    };
    let meta_name = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
    let meta_ref = || {
        schema(Schema {
            reference: Some(format!("#/definitions/{meta_name}")),
            ..Schema::default()
        })
    };
    let meta = schema(Schema {
        kind: Some("object"),
        properties: Some(vec![
            ("name", string()),
            ("namespace", string()),
            ("generateName", string()),
            ("uid", string()),
            ("resourceVersion", string()),
            (
                "creationTimestamp",
                schema(Schema {
                    kind: Some("string"),
                    format: Some("date-time"),
                    ..Schema::default()
                }),
            ),
            ("labels", map(string())),
            ("annotations", map(string())),
            (
                "managedFields",
                schema(Schema {
                    kind: Some("array"),
                    items: Some(map(Vec::new())),
                    ..Schema::default()
                }),
            ),
        ]),
        ..Schema::default()
    });
    let secret = schema(Schema {
        kind: Some("object"),
        properties: Some(vec![
            ("apiVersion", string()),
            ("kind", string()),
            ("metadata", meta_ref()),
            (
                "data",
                map(schema(Schema {
                    kind: Some("string"),
                    format: Some("byte"),
                    ..Schema::default()
                })),
            ),
            ("stringData", map(string())),
            ("type", string()),
            ("immutable", schema(Schema { kind: Some("boolean"), ..Schema::default() })),
        ]),
        gvk: Some("Secret"),
        ..Schema::default()
    });
    let namespace = schema(Schema {
        kind: Some("object"),
        properties: Some(vec![
            ("apiVersion", string()),
            ("kind", string()),
            ("metadata", meta_ref()),
            (
                "spec",
                schema(Schema {
                    kind: Some("object"),
                    properties: Some(vec![(
                        "finalizers",
                        schema(Schema {
                            kind: Some("array"),
                            items: Some(string()),
                            ..Schema::default()
                        }),
                    )]),
                    ..Schema::default()
                }),
            ),
            (
                "status",
                schema(Schema {
                    kind: Some("object"),
                    properties: Some(vec![("phase", string())]),
                    ..Schema::default()
                }),
            ),
        ]),
        gvk: Some("Namespace"),
        ..Schema::default()
    });
    let definitions: Vec<u8> = [
        (meta_name, meta),
        ("io.k8s.api.core.v1.Secret", secret),
        ("io.k8s.api.core.v1.Namespace", namespace),
    ]
    .iter()
    .flat_map(|(name, value)| ld(1, &[ld(1, name.as_bytes()), ld(2, value)].concat()))
    .collect();
    [ld(1, b"2.0"), ld(2, &[ld(1, b"Kubernetes"), ld(2, b"v1.32.0")].concat()), ld(9, &definitions)]
        .concat()
}

/// The OpenAPI v3 document of `api/v1`: just the PATCH parameters kubectl apply looks for.
pub(crate) fn openapi_v3_core() -> Value {
    let patch = |kind: &str| {
        json!({"patch": {
            "x-kubernetes-group-version-kind": {"group": "", "version": "v1", "kind": kind},
            "parameters": [
                {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                {"name": "force", "in": "query", "schema": {"type": "boolean"}},
            ],
            "responses": {"200": {"description": "OK"}},
        }})
    };
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": {
            "/api/v1/namespaces/{namespace}/secrets/{name}": patch("Secret"),
            "/api/v1/namespaces/{name}": patch("Namespace"),
        },
        "components": {"schemas": {}},
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.bytes.get(self.at)?;
            self.at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    /// The next field: number and, for length-delimited ones, the payload.
    fn field(&mut self) -> Option<(u64, Option<&'a [u8]>)> {
        if self.at >= self.bytes.len() {
            return None;
        }
        let key = self.varint()?;
        let payload = match key & 7 {
            0 => {
                self.varint()?;
                None
            }
            1 => {
                self.at += 8;
                None
            }
            2 => {
                let len = usize::try_from(self.varint()?).ok()?;
                let slice = self.bytes.get(self.at..self.at + len)?;
                self.at += len;
                Some(slice)
            }
            5 => {
                self.at += 4;
                None
            }
            _ => return None,
        };
        Some((key >> 3, payload))
    }
}

fn fields(bytes: &[u8]) -> Vec<(u64, &[u8])> {
    let mut reader = Reader { bytes, at: 0 };
    let mut out = Vec::new();
    while let Some((number, payload)) = reader.field() {
        if let Some(payload) = payload {
            out.push((number, payload));
        }
    }
    out
}

fn text(bytes: &[u8]) -> Value {
    Value::String(String::from_utf8_lossy(bytes).into_owned())
}

fn map_entry(bytes: &[u8]) -> (String, Vec<u8>) {
    let mut key = String::new();
    let mut value = Vec::new();
    for (number, payload) in fields(bytes) {
        match number {
            1 => key = String::from_utf8_lossy(payload).into_owned(),
            2 => value = payload.to_vec(),
            _ => {}
        }
    }
    (key, value)
}

fn object_meta(bytes: &[u8]) -> Value {
    let mut meta = Map::new();
    let mut labels = Map::new();
    let mut annotations = Map::new();
    for (number, payload) in fields(bytes) {
        match number {
            1 => {
                meta.insert("name".into(), text(payload));
            }
            3 => {
                meta.insert("namespace".into(), text(payload));
            }
            11 => {
                let (k, v) = map_entry(payload);
                labels.insert(k, text(&v));
            }
            12 => {
                let (k, v) = map_entry(payload);
                annotations.insert(k, text(&v));
            }
            _ => {}
        }
    }
    if !labels.is_empty() {
        meta.insert("labels".into(), Value::Object(labels));
    }
    if !annotations.is_empty() {
        meta.insert("annotations".into(), Value::Object(annotations));
    }
    Value::Object(meta)
}

/// The JSON form of an enveloped Secret or Namespace, or `None` for anything else.
pub(crate) fn decode(bytes: &[u8]) -> Option<Value> {
    let unknown = bytes.strip_prefix(b"k8s\0")?;
    let (mut kind, mut raw) = (String::new(), &[][..]);
    for (number, payload) in fields(unknown) {
        match number {
            1 => {
                for (n, p) in fields(payload) {
                    if n == 2 {
                        kind = String::from_utf8_lossy(p).into_owned();
                    }
                }
            }
            2 => raw = payload,
            _ => {}
        }
    }
    let mut object = json!({"apiVersion": "v1", "kind": kind});
    let mut data = Map::new();
    let mut string_data = Map::new();
    for (number, payload) in fields(raw) {
        match (kind.as_str(), number) {
            (_, 1) => object.set(&["metadata"], object_meta(payload)),
            ("Secret", 2) => {
                let (k, v) = map_entry(payload);
                data.insert(k, Value::String(base64::engine::general_purpose::STANDARD.encode(v)));
            }
            ("Secret", 3) => object.set(&["type"], text(payload)),
            ("Secret", 4) => {
                let (k, v) = map_entry(payload);
                string_data.insert(k, text(&v));
            }
            _ => {}
        }
    }
    match kind.as_str() {
        "Secret" => {
            object.set(&["data"], Value::Object(data));
            if !string_data.is_empty() {
                object.set(&["stringData"], Value::Object(string_data));
            }
        }
        "Namespace" | "SelfSubjectReview" => {}
        "SelfSubjectAccessReview" => {
            object.set(&["apiVersion"], json!("authorization.k8s.io/v1"));
            let mut attributes = Map::new();
            for (number, spec) in fields(raw) {
                if number != 2 {
                    continue;
                }
                for (n, resource) in fields(spec) {
                    if n != 1 {
                        continue;
                    }
                    for (field, value) in fields(resource) {
                        let name = match field {
                            1 => "namespace",
                            2 => "verb",
                            3 => "group",
                            4 => "version",
                            5 => "resource",
                            6 => "subresource",
                            7 => "name",
                            _ => continue,
                        };
                        attributes.insert(name.into(), text(value));
                    }
                }
            }
            object.set(&["spec"], json!({"resourceAttributes": attributes}));
        }
        _ => return None,
    }
    Some(object)
}
