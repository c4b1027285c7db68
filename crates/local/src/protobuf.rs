//! Just enough Kubernetes protobuf decoding for the one typed write kubectl sends as protobuf here: `kubectl create namespace`.

use serde_json::{Map, Value, json};

/// Kubernetes' protobuf envelope prefix (`k8s\0`), followed by a `runtime.Unknown` message.
const MAGIC: &[u8] = b"k8s\x00";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    #[error("not a Kubernetes protobuf message (missing k8s envelope)")]
    NoEnvelope,
    #[error("truncated or malformed protobuf")]
    Malformed,
    #[error("protobuf bodies are only understood for Namespaces, not {0}")]
    UnsupportedKind(String),
}

enum Field<'a> {
    Varint,
    Bytes(&'a [u8]),
}

fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, ProtoError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(*pos).ok_or(ProtoError::Malformed)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(ProtoError::Malformed)
}

/// Splits a message into (field number, value) pairs.
fn fields(buf: &[u8]) -> Result<Vec<(u64, Field<'_>)>, ProtoError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let key = varint(buf, &mut pos)?;
        let field = match key & 7 {
            0 => {
                varint(buf, &mut pos)?;
                Field::Varint
            }
            1 | 5 => {
                pos += if key & 7 == 1 { 8 } else { 4 };
                if pos > buf.len() {
                    return Err(ProtoError::Malformed);
                }
                Field::Varint
            }
            2 => {
                let len =
                    usize::try_from(varint(buf, &mut pos)?).map_err(|_| ProtoError::Malformed)?;
                let end = pos
                    .checked_add(len)
                    .filter(|e| *e <= buf.len())
                    .ok_or(ProtoError::Malformed)?;
                let bytes = &buf[pos..end];
                pos = end;
                Field::Bytes(bytes)
            }
            _ => return Err(ProtoError::Malformed),
        };
        out.push((key >> 3, field));
    }
    Ok(out)
}

fn text(bytes: &[u8]) -> Result<String, ProtoError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| ProtoError::Malformed)
}

fn string_map(entries: &[&[u8]]) -> Result<Value, ProtoError> {
    let mut map = Map::new();
    for entry in entries {
        let (mut key, mut value) = (String::new(), String::new());
        for (num, field) in fields(entry)? {
            match (num, field) {
                (1, Field::Bytes(b)) => key = text(b)?,
                (2, Field::Bytes(b)) => value = text(b)?,
                _ => {}
            }
        }
        map.insert(key, Value::String(value));
    }
    Ok(Value::Object(map))
}

/// The ObjectMeta fields a client sets on create: name, generateName, labels, annotations.
fn object_meta(buf: &[u8]) -> Result<Value, ProtoError> {
    let mut meta = json!({});
    let (mut labels, mut annotations) = (Vec::new(), Vec::new());
    for (num, field) in fields(buf)? {
        match (num, field) {
            (1, Field::Bytes(b)) => meta["name"] = json!(text(b)?),
            (2, Field::Bytes(b)) => meta["generateName"] = json!(text(b)?),
            (11, Field::Bytes(b)) => labels.push(b),
            (12, Field::Bytes(b)) => annotations.push(b),
            _ => {}
        }
    }
    if !labels.is_empty() {
        meta["labels"] = string_map(&labels)?;
    }
    if !annotations.is_empty() {
        meta["annotations"] = string_map(&annotations)?;
    }
    Ok(meta)
}

/// Decodes a protobuf-encoded Namespace into its JSON form.
pub fn decode_namespace(body: &[u8]) -> Result<Value, ProtoError> {
    let envelope = body.strip_prefix(MAGIC).ok_or(ProtoError::NoEnvelope)?;
    let (mut kind, mut raw) = (String::new(), None);
    for (num, field) in fields(envelope)? {
        match (num, field) {
            (1, Field::Bytes(type_meta)) => {
                for (n, f) in fields(type_meta)? {
                    if let (2, Field::Bytes(b)) = (n, f) {
                        kind = text(b)?;
                    }
                }
            }
            (2, Field::Bytes(b)) => raw = Some(b),
            _ => {}
        }
    }
    if kind != "Namespace" {
        return Err(ProtoError::UnsupportedKind(kind));
    }
    let mut namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {}});
    for (num, field) in fields(raw.ok_or(ProtoError::Malformed)?)? {
        if let (1, Field::Bytes(meta)) = (num, field) {
            namespace["metadata"] = object_meta(meta)?;
        }
    }
    Ok(namespace)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn len_field(num: u8, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![(num << 3) | 2, u8::try_from(bytes.len()).unwrap()];
        out.extend_from_slice(bytes);
        out
    }

    fn namespace_message(name: &str, labels: &[(&str, &str)]) -> Vec<u8> {
        let mut meta = len_field(1, name.as_bytes());
        for (k, v) in labels {
            let entry = [len_field(1, k.as_bytes()), len_field(2, v.as_bytes())].concat();
            meta.extend(len_field(11, &entry));
        }
        let namespace = [len_field(1, &meta), len_field(2, &[]), len_field(3, &[])].concat();
        let type_meta = [len_field(1, b"v1"), len_field(2, b"Namespace")].concat();
        let unknown = [
            len_field(1, &type_meta),
            len_field(2, &namespace),
            len_field(3, b""),
            len_field(4, b""),
        ]
        .concat();
        [MAGIC, &unknown].concat()
    }

    #[test]
    fn decodes_what_kubectl_create_namespace_sends() {
        let body = namespace_message("team", &[("a", "b")]);
        assert_eq!(
            decode_namespace(&body).unwrap(),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team", "labels": {"a": "b"}}})
        );
    }

    #[test]
    fn rejects_other_kinds_and_garbage() {
        let other = namespace_message("x", &[]);
        let swapped: Vec<u8> = String::from_utf8_lossy(&other)
            .replace("Namespace", "Pod12345a")
            .into_bytes();
        assert!(matches!(
            decode_namespace(&swapped),
            Err(ProtoError::UnsupportedKind(_))
        ));
        assert_eq!(decode_namespace(b"{}"), Err(ProtoError::NoEnvelope));
        assert_eq!(
            decode_namespace(b"k8s\x00\x0a\x7f"),
            Err(ProtoError::Malformed)
        );
    }
}
