//! YAML read as Prow reads it: go-yaml v2 (through `sigs.k8s.io/yaml`, non-strict) decoding into
//! `interface{}` before the JSON step. Three things differ from a plain YAML 1.2 reader, and all
//! three are common in real job configs:
//!
//! - **Merge keys.** `<<: *base` (or an inline mapping) copies the merged mapping's entries into the
//!   mapping at the point where `<<` stands; `<<: [*a, *b]` merges every listed mapping, earlier
//!   ones winning over later ones. go-yaml v2 applies entries in document order and a later
//!   assignment overwrites an earlier one, so explicit keys written after `<<` (the universal
//!   style) override merged ones, while a key written *before* `<<` is overwritten by the merge.
//!   That last point is go-yaml v2's behaviour, not YAML 1.1's merge spec (go-yaml v3 changed it);
//!   we follow v2 because that is what Prow runs.
//! - **Repeated keys.** A key written twice in one mapping keeps its last value (go-yaml v2 without
//!   `UnmarshalStrict`). Values are replaced whole, never deep-merged.
//! - **Documents.** Only the first document of a file is read; anchors never cross documents.
//!
//! The file becomes a small tree (the event parser is `yaml-rust2`, which also gives positions),
//! merges and repeats are resolved while it is built, and typed structs are deserialized from it
//! with the scalar rules of `serde_norway` (YAML 1.2 core schema for untyped values, any scalar
//! accepted as a string), so configs without merges read exactly as before. Every node keeps
//! where it was written: an entry that came from a merged anchor points at the anchor's text.

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer as _, IntoDeserializer, Unexpected, Visitor};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::config::locate::{Position, Seg};

/// Nesting deeper than this is an error rather than a stack overflow (as in `serde_norway`).
const MAX_DEPTH: usize = 128;

type NodeId = usize;

const NO_ITEMS: &[NodeId] = &[];
const NO_ENTRIES: &[(NodeId, NodeId)] = &[];

/// A parsed file: the first document, merges applied and repeated keys collapsed.
#[derive(Debug)]
pub(crate) struct Doc {
    nodes: Vec<Node>,
    root: NodeId,
    /// Where a second, non-empty document starts (Go ignores it; we warn).
    ignored_document: Option<Position>,
}

#[derive(Debug)]
struct Node {
    /// For a mapping, its first key as written (where a reader looks); otherwise the node itself.
    pos: Position,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Scalar(Scalar),
    Seq(Vec<NodeId>),
    /// Resolved entries: keys unique, each holding the value of its last assignment.
    Map(Vec<(NodeId, NodeId)>),
}

#[derive(Debug)]
struct Scalar {
    value: String,
    /// Plain (unquoted, untagged or resolved by its tag); only plain scalars can be null, bools or
    /// numbers in an untyped context.
    plain: bool,
    tag: CoreTag,
}

/// The YAML core tags that change how a scalar reads; other tags are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CoreTag {
    None,
    Str,
    Int,
    Float,
    Bool,
    Null,
}

/// A YAML syntax or type error, with the position of the node it concerns when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Error {
    message: String,
    position: Option<Position>,
}

impl Error {
    fn at(position: Position, message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            position: Some(position),
        }
    }

    pub(crate) fn position(&self) -> Option<Position> {
        self.position
    }

    fn or_at(mut self, position: Position) -> Self {
        self.position.get_or_insert(position);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error {
            message: msg.to_string(),
            position: None,
        }
    }
}

fn position(mark: &Marker) -> Position {
    // yaml-rust2 lines are 1-based and columns 0-based.
    Position {
        line: mark.line(),
        column: mark.col() + 1,
    }
}

/// Parses the first document of `text` as go-yaml v2 reads it.
pub(crate) fn parse(text: &str) -> Result<Doc, Error> {
    let mut builder = Builder {
        parser: Parser::new_from_str(text),
        nodes: Vec::new(),
        anchors: HashMap::new(),
    };
    let mut ended = false;
    let root = loop {
        let (event, mark) = builder.next()?;
        match event {
            Event::StreamStart | Event::Nothing => {}
            Event::StreamEnd => {
                ended = true;
                break None;
            }
            Event::DocumentStart => {
                let (event, mark) = builder.next()?;
                if event == Event::DocumentEnd {
                    break None;
                }
                let root = builder.node(event, mark, 0)?;
                // Whatever follows the root must end the document (go-yaml fails otherwise too).
                let (event, mark) = builder.next()?;
                if event != Event::DocumentEnd {
                    return Err(Error::at(
                        position(&mark),
                        "expected the end of the document",
                    ));
                }
                break Some(root);
            }
            other => return Err(Error::at(position(&mark), format!("unexpected {other:?}"))),
        }
    };
    let root = match root {
        Some(root) => root,
        None => builder.push(
            Position { line: 1, column: 1 },
            Kind::Scalar(Scalar {
                value: String::new(),
                plain: true,
                tag: CoreTag::None,
            }),
        ),
    };
    let ignored_document = if ended { None } else { builder.next_document() };
    let nodes = builder.nodes;
    let limit = nodes.len().saturating_mul(100).max(100_000);
    if expanded_size(&nodes, root, limit) > limit {
        return Err(Error::at(
            nodes[root].pos,
            "repetition limit exceeded: aliases expand the document too much",
        ));
    }
    Ok(Doc {
        nodes,
        root,
        ignored_document,
    })
}

/// Nodes the document expands to when every alias is followed, counted up to `limit` (the tree
/// shares aliased nodes, so a few lines can stand for billions of nodes).
fn expanded_size(nodes: &[Node], root: NodeId, limit: usize) -> usize {
    let mut memo: Vec<Option<usize>> = vec![None; nodes.len()];
    // Children always have smaller ids than their parent, so one pass in id order sees every
    // child before its parent.
    for id in 0..=root {
        let size = match &nodes[id].kind {
            Kind::Scalar(_) => 1,
            Kind::Seq(items) => items
                .iter()
                .fold(1usize, |acc, &i| acc.saturating_add(memo[i].unwrap_or(1))),
            Kind::Map(entries) => entries.iter().fold(1usize, |acc, &(k, v)| {
                acc.saturating_add(memo[k].unwrap_or(1))
                    .saturating_add(memo[v].unwrap_or(1))
            }),
        };
        memo[id] = Some(size.min(limit.saturating_add(1)));
    }
    memo[root].unwrap_or(1)
}

struct Builder<'a> {
    parser: Parser<std::str::Chars<'a>>,
    nodes: Vec<Node>,
    /// yaml-rust2 anchor id -> node; `None` while the anchored node is still being read.
    anchors: HashMap<usize, Option<NodeId>>,
}

impl Builder<'_> {
    fn next(&mut self) -> Result<(Event, Marker), Error> {
        self.parser.next_token().map_err(|e| {
            let info = e.info();
            let message = if info.is_empty() {
                "invalid YAML".to_string()
            } else {
                info.to_string()
            };
            Error::at(position(e.marker()), message)
        })
    }

    fn push(&mut self, pos: Position, kind: Kind) -> NodeId {
        self.nodes.push(Node { pos, kind });
        self.nodes.len() - 1
    }

    fn anchor(&mut self, anchor: usize, id: NodeId) {
        if anchor > 0 {
            self.anchors.insert(anchor, Some(id));
        }
    }

    /// After the first document: where the next non-empty one starts, if any. Go never reads
    /// it, so neither do we (a broken later document counts as present, not as an error).
    fn next_document(&mut self) -> Option<Position> {
        loop {
            match self.parser.next_token() {
                Ok((Event::DocumentEnd | Event::Nothing, _)) => {}
                Ok((Event::DocumentStart, start)) => match self.parser.next_token() {
                    Ok((Event::Scalar(value, TScalarStyle::Plain, 0, None), _))
                        if value.is_empty() => {}
                    Ok((Event::DocumentEnd, _)) => {}
                    _ => return Some(position(&start)),
                },
                Ok(_) => return None,
                Err(e) => return Some(position(e.marker())),
            }
        }
    }

    fn node(&mut self, event: Event, mark: Marker, depth: usize) -> Result<NodeId, Error> {
        let pos = position(&mark);
        if depth > MAX_DEPTH {
            return Err(Error::at(pos, "recursion limit exceeded"));
        }
        match event {
            Event::Alias(anchor) => match self.anchors.get(&anchor) {
                Some(Some(id)) => Ok(*id),
                Some(None) => Err(Error::at(pos, "anchor value contains itself")),
                None => Err(Error::at(pos, "unknown anchor")),
            },
            Event::Scalar(value, style, anchor, tag) => {
                let tag = core_tag(tag.as_ref());
                let plain = match tag {
                    CoreTag::None => style == TScalarStyle::Plain,
                    CoreTag::Str => false,
                    _ => true,
                };
                let id = self.push(pos, Kind::Scalar(Scalar { value, plain, tag }));
                self.anchor(anchor, id);
                Ok(id)
            }
            Event::SequenceStart(anchor, _) => {
                if anchor > 0 {
                    self.anchors.insert(anchor, None);
                }
                let mut items = Vec::new();
                loop {
                    let (event, mark) = self.next()?;
                    if event == Event::SequenceEnd {
                        break;
                    }
                    items.push(self.node(event, mark, depth + 1)?);
                }
                let id = self.push(pos, Kind::Seq(items));
                self.anchor(anchor, id);
                Ok(id)
            }
            Event::MappingStart(anchor, _) => {
                if anchor > 0 {
                    self.anchors.insert(anchor, None);
                }
                let mut map = MapBuilder::default();
                let mut first_key = None;
                loop {
                    let (event, key_mark) = self.next()?;
                    if event == Event::MappingEnd {
                        break;
                    }
                    first_key.get_or_insert(position(&key_mark));
                    let merge = is_merge(&event);
                    let key = self.node(event, key_mark, depth + 1)?;
                    let (event, value_mark) = self.next()?;
                    let aliased = matches!(event, Event::Alias(_));
                    let value = self.node(event, value_mark, depth + 1)?;
                    if merge {
                        self.merge(&mut map, value, aliased, position(&key_mark))?;
                    } else {
                        if !matches!(self.nodes[key].kind, Kind::Scalar(_)) {
                            return Err(Error::at(position(&key_mark), "invalid map key"));
                        }
                        map.assign(&self.nodes, key, value);
                    }
                }
                let id = self.push(first_key.unwrap_or(pos), Kind::Map(map.entries));
                self.anchor(anchor, id);
                Ok(id)
            }
            other => Err(Error::at(pos, format!("unexpected {other:?}"))),
        }
    }

    /// go-yaml v2's `merge`: a mapping's entries are assigned in place; for a sequence of
    /// mappings the last is assigned first so that earlier mappings win. The sequence must be
    /// written in place: an alias must name a mapping.
    fn merge(
        &self,
        map: &mut MapBuilder,
        value: NodeId,
        aliased: bool,
        at: Position,
    ) -> Result<(), Error> {
        let want_map = || {
            Error::at(
                at,
                "map merge requires map or sequence of maps as the value",
            )
        };
        match &self.nodes[value].kind {
            Kind::Map(entries) => {
                for &(k, v) in entries {
                    map.assign(&self.nodes, k, v);
                }
            }
            Kind::Seq(_) if aliased => return Err(want_map()),
            Kind::Seq(items) => {
                for &item in items.iter().rev() {
                    let Kind::Map(entries) = &self.nodes[item].kind else {
                        return Err(want_map());
                    };
                    for &(k, v) in entries {
                        map.assign(&self.nodes, k, v);
                    }
                }
            }
            Kind::Scalar(_) => return Err(want_map()),
        }
        Ok(())
    }
}

/// go-yaml's `isMerge`: a plain `<<` key, or one tagged `!!merge`.
fn is_merge(event: &Event) -> bool {
    match event {
        Event::Scalar(value, style, _, tag) if value == "<<" => match tag {
            None => *style == TScalarStyle::Plain,
            Some(tag) => tag.handle == "tag:yaml.org,2002:" && tag.suffix == "merge",
        },
        _ => false,
    }
}

fn core_tag(tag: Option<&Tag>) -> CoreTag {
    match tag {
        Some(tag) if tag.handle == "tag:yaml.org,2002:" => match tag.suffix.as_str() {
            "str" => CoreTag::Str,
            "int" => CoreTag::Int,
            "float" => CoreTag::Float,
            "bool" => CoreTag::Bool,
            "null" => CoreTag::Null,
            _ => CoreTag::None,
        },
        _ => CoreTag::None,
    }
}

/// The entries of one mapping as go-yaml v2 assigns them: a repeated key replaces the earlier
/// value (and the position reported for it) but keeps its place.
#[derive(Default)]
struct MapBuilder {
    entries: Vec<(NodeId, NodeId)>,
    /// Key text -> index in `entries`, built once a mapping is big enough for it to pay.
    index: Option<HashMap<String, usize>>,
}

impl MapBuilder {
    const INDEX_FROM: usize = 16;

    fn assign(&mut self, nodes: &[Node], key: NodeId, value: NodeId) {
        let text = key_text(nodes, key);
        let found = match &self.index {
            Some(index) => index.get(text).copied(),
            None => self
                .entries
                .iter()
                .position(|&(k, _)| key_text(nodes, k) == text),
        };
        match found {
            Some(i) => self.entries[i] = (key, value),
            None => {
                self.entries.push((key, value));
                if let Some(index) = &mut self.index {
                    index.insert(text.to_string(), self.entries.len() - 1);
                } else if self.entries.len() >= Self::INDEX_FROM {
                    self.index = Some(
                        self.entries
                            .iter()
                            .enumerate()
                            .map(|(i, &(k, _))| (key_text(nodes, k).to_string(), i))
                            .collect(),
                    );
                }
            }
        }
    }
}

fn key_text(nodes: &[Node], key: NodeId) -> &str {
    match &nodes[key].kind {
        Kind::Scalar(s) => &s.value,
        _ => "",
    }
}

impl Doc {
    /// A serde deserializer over the whole document.
    pub(crate) fn deserializer(&self) -> NodeDeserializer<'_> {
        NodeDeserializer {
            doc: self,
            id: self.root,
        }
    }

    /// Where a second document starts; Prow reads only the first.
    pub(crate) fn ignored_document(&self) -> Option<Position> {
        self.ignored_document
    }

    /// Position of the node at `path`: for a mapping key, the key as written (in the anchor, for
    /// an entry that came from a merge); for a sequence item or the root, the item. `None` when
    /// the path does not exist.
    pub(crate) fn locate(&self, path: &[Seg]) -> Option<Position> {
        let (found, depth) = self.walk(path);
        (depth == path.len()).then_some(found)
    }

    /// Every path in the document matching `pattern`, where `*` stands for any key of a
    /// mapping or any item of a sequence: `triggers.*.trigger_github_workflows`.
    pub(crate) fn paths_matching(&self, pattern: &[&str]) -> Vec<Vec<Seg>> {
        let mut found = Vec::new();
        self.match_from(self.root, pattern, &mut Vec::new(), &mut found);
        found
    }

    fn match_from(
        &self,
        node: NodeId,
        pattern: &[&str],
        at: &mut Vec<Seg>,
        found: &mut Vec<Vec<Seg>>,
    ) {
        let Some((first, rest)) = pattern.split_first() else {
            found.push(at.clone());
            return;
        };
        let children: Vec<(Seg, NodeId)> = match &self.nodes[node].kind {
            Kind::Map(entries) => entries
                .iter()
                .map(|&(k, v)| (Seg::Key(key_text(&self.nodes, k).to_owned()), v))
                .filter(|(k, _)| *first == "*" || matches!(k, Seg::Key(k) if k == first))
                .collect(),
            Kind::Seq(items) if *first == "*" => items
                .iter()
                .enumerate()
                .map(|(i, &item)| (Seg::Index(i), item))
                .collect(),
            _ => Vec::new(),
        };
        for (seg, child) in children {
            at.push(seg);
            self.match_from(child, rest, at, found);
            at.pop();
        }
    }

    /// Position of `path` or of its longest existing prefix.
    pub(crate) fn locate_nearest(&self, path: &[Seg]) -> Position {
        self.walk(path).0
    }

    /// Follows `path` as far as it exists: the position reached and how many segments matched.
    fn walk(&self, path: &[Seg]) -> (Position, usize) {
        let mut node = self.root;
        let mut at = self.nodes[node].pos;
        for (depth, seg) in path.iter().enumerate() {
            let next = match (&self.nodes[node].kind, seg) {
                (Kind::Map(entries), Seg::Key(wanted)) => entries
                    .iter()
                    .find(|&&(k, _)| key_text(&self.nodes, k) == wanted)
                    .map(|&(k, v)| (self.nodes[k].pos, v)),
                (Kind::Seq(items), Seg::Index(i)) => {
                    items.get(*i).map(|&item| (self.nodes[item].pos, item))
                }
                _ => None,
            };
            let Some((pos, child)) = next else {
                return (at, depth);
            };
            at = pos;
            node = child;
        }
        (at, path.len())
    }
}

/// Deserializes one node of a [`Doc`] with `serde_norway`'s scalar rules.
#[derive(Clone, Copy)]
pub(crate) struct NodeDeserializer<'de> {
    doc: &'de Doc,
    id: NodeId,
}

impl<'de> NodeDeserializer<'de> {
    fn node(&self) -> &'de Node {
        &self.doc.nodes[self.id]
    }

    fn at(&self, id: NodeId) -> Self {
        NodeDeserializer { doc: self.doc, id }
    }

    /// Errors without a position get this node's (`serde_norway`'s `fix_mark`).
    fn fix<T>(&self, result: Result<T, Error>) -> Result<T, Error> {
        result.map_err(|e| e.or_at(self.node().pos))
    }

    fn invalid_type(&self, exp: &dyn de::Expected) -> Error {
        de::Error::invalid_type(unexpected(self.node()), exp)
    }

    /// The node's scalar when it reads as `tag` (plain, or explicitly tagged so).
    fn scalar_as(&self, tag: CoreTag) -> Option<&'de str> {
        match &self.node().kind {
            Kind::Scalar(s) if s.plain && (s.tag == CoreTag::None || s.tag == tag) => {
                Some(&s.value)
            }
            _ => None,
        }
    }

    fn is_empty_plain(&self) -> bool {
        matches!(&self.node().kind, Kind::Scalar(s) if s.plain && s.tag == CoreTag::None && s.value.is_empty())
    }
}

/// What a node looks like to an error message (as `serde_norway` names it).
fn unexpected(node: &Node) -> Unexpected<'_> {
    match &node.kind {
        Kind::Seq(_) => Unexpected::Seq,
        Kind::Map(_) => Unexpected::Map,
        Kind::Scalar(s) if !s.plain => Unexpected::Str(&s.value),
        Kind::Scalar(s) => match resolve(s) {
            Resolved::Null => Unexpected::Unit,
            Resolved::Bool(b) => Unexpected::Bool(b),
            Resolved::U64(n) => Unexpected::Unsigned(n),
            Resolved::I64(n) => Unexpected::Signed(n),
            Resolved::U128(_) | Resolved::I128(_) => Unexpected::Other("integer"),
            Resolved::F64(f) => Unexpected::Float(f),
            Resolved::Str => Unexpected::Str(&s.value),
        },
    }
}

enum Resolved {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    U128(u128),
    I128(i128),
    F64(f64),
    Str,
}

/// The type of an untyped scalar (YAML 1.2 core schema, as `serde_norway` reads it).
fn resolve(s: &Scalar) -> Resolved {
    let v = s.value.as_str();
    if !s.plain {
        return Resolved::Str;
    }
    match s.tag {
        CoreTag::Null if parse_null(v) => return Resolved::Null,
        CoreTag::Bool => return parse_bool(v).map_or(Resolved::Str, Resolved::Bool),
        CoreTag::Float => return parse_f64(v).map_or(Resolved::Str, Resolved::F64),
        _ => {}
    }
    if v.is_empty() || parse_null(v) {
        return Resolved::Null;
    }
    if let Some(b) = parse_bool(v) {
        return Resolved::Bool(b);
    }
    if let Some(n) = parse_unsigned_int(v, u64::from_str_radix) {
        return Resolved::U64(n);
    }
    if let Some(n) = parse_negative_int(v, i64::from_str_radix) {
        return Resolved::I64(n);
    }
    if let Some(n) = parse_unsigned_int(v, u128::from_str_radix) {
        return Resolved::U128(n);
    }
    if let Some(n) = parse_negative_int(v, i128::from_str_radix) {
        return Resolved::I128(n);
    }
    if !digits_but_not_number(v)
        && let Some(f) = parse_f64(v)
    {
        return Resolved::F64(f);
    }
    Resolved::Str
}

fn parse_null(v: &str) -> bool {
    matches!(v, "null" | "Null" | "NULL" | "~")
}

fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

type Radix<T> = fn(&str, u32) -> Result<T, std::num::ParseIntError>;

fn prefixed<T>(rest: &str, radix: u32, from: Radix<T>) -> Option<T> {
    if rest.starts_with(['+', '-']) {
        return None;
    }
    from(rest, radix).ok()
}

fn parse_unsigned_int<T>(v: &str, from: Radix<T>) -> Option<T> {
    let unpositive = v.strip_prefix('+').unwrap_or(v);
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = unpositive.strip_prefix(prefix)
            && let Some(n) = prefixed(rest, radix, from)
        {
            return Some(n);
        }
    }
    if unpositive.starts_with(['+', '-']) || digits_but_not_number(v) {
        return None;
    }
    from(unpositive, 10).ok()
}

fn parse_negative_int<T>(v: &str, from: Radix<T>) -> Option<T> {
    for (prefix, radix) in [("-0x", 16), ("-0o", 8), ("-0b", 2)] {
        if let Some(rest) = v.strip_prefix(prefix)
            && let Ok(n) = from(&format!("-{rest}"), radix)
        {
            return Some(n);
        }
    }
    if digits_but_not_number(v) {
        return None;
    }
    from(v, 10).ok()
}

fn parse_signed_int<T>(v: &str, from: Radix<T>) -> Option<T> {
    let unpositive = match v.strip_prefix('+') {
        Some(rest) if rest.starts_with(['+', '-']) => return None,
        Some(rest) => rest,
        None => v,
    };
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = unpositive.strip_prefix(prefix)
            && let Some(n) = prefixed(rest, radix, from)
        {
            return Some(n);
        }
        if let Some(rest) = v.strip_prefix('-').and_then(|r| r.strip_prefix(prefix))
            && let Ok(n) = from(&format!("-{rest}"), radix)
        {
            return Some(n);
        }
    }
    if digits_but_not_number(v) {
        return None;
    }
    from(unpositive, 10).ok()
}

fn parse_f64(v: &str) -> Option<f64> {
    let unpositive = match v.strip_prefix('+') {
        Some(rest) if rest.starts_with(['+', '-']) => return None,
        Some(rest) => rest,
        None => v,
    };
    if matches!(unpositive, ".inf" | ".Inf" | ".INF") {
        return Some(f64::INFINITY);
    }
    if matches!(v, "-.inf" | "-.Inf" | "-.INF") {
        return Some(f64::NEG_INFINITY);
    }
    if matches!(v, ".nan" | ".NaN" | ".NAN") {
        return Some(f64::NAN.copysign(1.0));
    }
    unpositive.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Leading zeros followed by digits is a string in YAML 1.2.
fn digits_but_not_number(v: &str) -> bool {
    let v = v.strip_prefix(['-', '+']).unwrap_or(v);
    v.len() > 1 && v.starts_with('0') && v[1..].bytes().all(|b| b.is_ascii_digit())
}

macro_rules! deserialize_int {
    ($($method:ident => $visit:ident, $parse:ident, $ty:ty;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            let parsed = self
                .scalar_as(CoreTag::Int)
                .and_then(|v| $parse(v, <$ty>::from_str_radix));
            let result = match parsed {
                Some(n) => visitor.$visit(n),
                None => Err(self.invalid_type(&visitor)),
            };
            self.fix(result)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for NodeDeserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let result = match &self.node().kind {
            Kind::Seq(items) => visitor.visit_seq(SeqAccess {
                de: self,
                items: items.iter(),
            }),
            Kind::Map(entries) => visitor.visit_map(MapAccess {
                de: self,
                entries: entries.iter(),
                value: None,
            }),
            Kind::Scalar(s) => match resolve(s) {
                Resolved::Null => visitor.visit_unit(),
                Resolved::Bool(b) => visitor.visit_bool(b),
                Resolved::U64(n) => visitor.visit_u64(n),
                Resolved::I64(n) => visitor.visit_i64(n),
                Resolved::U128(n) => visitor.visit_u128(n),
                Resolved::I128(n) => visitor.visit_i128(n),
                Resolved::F64(f) => visitor.visit_f64(f),
                Resolved::Str => visitor.visit_borrowed_str(&s.value),
            },
        };
        self.fix(result)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let result = match self.scalar_as(CoreTag::Bool).and_then(parse_bool) {
            Some(b) => visitor.visit_bool(b),
            None => Err(self.invalid_type(&visitor)),
        };
        self.fix(result)
    }

    deserialize_int! {
        deserialize_i8 => visit_i64, parse_signed_int, i64;
        deserialize_i16 => visit_i64, parse_signed_int, i64;
        deserialize_i32 => visit_i64, parse_signed_int, i64;
        deserialize_i64 => visit_i64, parse_signed_int, i64;
        deserialize_i128 => visit_i128, parse_signed_int, i128;
        deserialize_u8 => visit_u64, parse_unsigned_int, u64;
        deserialize_u16 => visit_u64, parse_unsigned_int, u64;
        deserialize_u32 => visit_u64, parse_unsigned_int, u64;
        deserialize_u64 => visit_u64, parse_unsigned_int, u64;
        deserialize_u128 => visit_u128, parse_unsigned_int, u128;
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let result = match self.scalar_as(CoreTag::Float).and_then(parse_f64) {
            Some(f) => visitor.visit_f64(f),
            None => Err(self.invalid_type(&visitor)),
        };
        self.fix(result)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    /// Any scalar reads as a string, whatever it looks like (`serde_norway` does the same).
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let result = match &self.node().kind {
            Kind::Scalar(s) => visitor.visit_borrowed_str(&s.value),
            _ => Err(self.invalid_type(&visitor)),
        };
        self.fix(result)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Error> {
        Err(Error::at(
            self.node().pos,
            "serialization and deserialization of bytes in YAML is not implemented",
        ))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let is_none = match &self.node().kind {
            Kind::Scalar(s) if s.plain => match s.tag {
                CoreTag::None => s.value.is_empty() || parse_null(&s.value),
                CoreTag::Null => parse_null(&s.value),
                _ => false,
            },
            _ => false,
        };
        let result = if is_none {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        };
        self.fix(result)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let result = match &self.node().kind {
            Kind::Scalar(s) if matches!(resolve(s), Resolved::Null) => visitor.visit_unit(),
            Kind::Scalar(s) => Err(de::Error::invalid_value(Unexpected::Str(&s.value), &"null")),
            _ => Err(self.invalid_type(&visitor)),
        };
        self.fix(result)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        let result = visitor.visit_newtype_struct(self);
        self.fix(result)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let result = match &self.node().kind {
            Kind::Seq(items) => visitor.visit_seq(SeqAccess {
                de: self,
                items: items.iter(),
            }),
            _ if self.is_empty_plain() => visitor.visit_seq(SeqAccess {
                de: self,
                items: NO_ITEMS.iter(),
            }),
            _ => Err(self.invalid_type(&visitor)),
        };
        self.fix(result)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let result = match &self.node().kind {
            Kind::Map(entries) => visitor.visit_map(MapAccess {
                de: self,
                entries: entries.iter(),
                value: None,
            }),
            _ if self.is_empty_plain() => visitor.visit_map(MapAccess {
                de: self,
                entries: NO_ENTRIES.iter(),
                value: None,
            }),
            _ => Err(self.invalid_type(&visitor)),
        };
        self.fix(result)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    /// A scalar names a unit variant; a one-entry mapping is `{variant: value}`.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let result = match &self.node().kind {
            Kind::Scalar(s) => visitor.visit_enum(IntoDeserializer::<Error>::into_deserializer(
                s.value.as_str(),
            )),
            Kind::Map(entries) if entries.len() == 1 => visitor.visit_enum(EnumAccess {
                de: self,
                key: entries[0].0,
                value: entries[0].1,
            }),
            _ => Err(self.invalid_type(&visitor)),
        };
        self.fix(result)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

struct SeqAccess<'de> {
    de: NodeDeserializer<'de>,
    items: std::slice::Iter<'de, NodeId>,
}

impl<'de> de::SeqAccess<'de> for SeqAccess<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.items.next() {
            Some(&item) => seed.deserialize(self.de.at(item)).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapAccess<'de> {
    de: NodeDeserializer<'de>,
    entries: std::slice::Iter<'de, (NodeId, NodeId)>,
    value: Option<NodeId>,
}

impl<'de> de::MapAccess<'de> for MapAccess<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            Some(&(key, value)) => {
                self.value = Some(value);
                seed.deserialize(self.de.at(key)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some(value) => seed.deserialize(self.de.at(value)),
            None => Err(de::Error::custom("value requested before key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct EnumAccess<'de> {
    de: NodeDeserializer<'de>,
    key: NodeId,
    value: NodeId,
}

impl<'de> de::EnumAccess<'de> for EnumAccess<'de> {
    type Error = Error;
    type Variant = NodeDeserializer<'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), Error> {
        let variant = seed.deserialize(self.de.at(self.key))?;
        Ok((variant, self.de.at(self.value)))
    }
}

impl<'de> de::VariantAccess<'de> for NodeDeserializer<'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        de::Deserialize::deserialize(self)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde::Deserialize;
    use serde_norway::Value;

    use super::*;

    /// `text` read as the loader reads it, as an untyped value.
    fn read(text: &str) -> Result<Value, Error> {
        Value::deserialize(parse(text)?.deserializer())
    }

    fn yaml(text: &str) -> Value {
        serde_norway::from_str(text).unwrap()
    }

    const ANCHORS: &str = "\
a: &a {k: from-a, only_a: 1}
b: &b {k: from-b, only_b: 2}
nested: &nested {inner: {x: 1, y: 2}, top: t}
";

    #[test]
    fn merge_keys_follow_go_yaml_v2() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "one mapping",
                "x: {<<: *a, z: 3}",
                "{k: from-a, only_a: 1, z: 3}",
            ),
            (
                "explicit keys after << override merged ones",
                "x: {<<: *a, k: mine}",
                "{k: mine, only_a: 1}",
            ),
            (
                "a list of mappings merges in order: the first wins",
                "x: {<<: [*a, *b]}",
                "{k: from-a, only_a: 1, only_b: 2}",
            ),
            (
                "the other order",
                "x: {<<: [*b, *a]}",
                "{k: from-b, only_a: 1, only_b: 2}",
            ),
            (
                "explicit keys override every merged mapping",
                "x: {<<: [*a, *b], k: mine, only_b: 0}",
                "{k: mine, only_a: 1, only_b: 0}",
            ),
            (
                "an inline mapping",
                "x: {<<: {k: inline, i: 1}, j: 2}",
                "{k: inline, i: 1, j: 2}",
            ),
            (
                "an inline mapping in a list",
                "x: {<<: [{k: inline}, *a]}",
                "{k: inline, only_a: 1}",
            ),
            (
                "values are replaced whole, never deep-merged",
                "x: {<<: *nested, inner: {z: 3}}",
                "{inner: {z: 3}, top: t}",
            ),
            (
                "merged values are the anchor's",
                "x: {<<: *nested}",
                "{inner: {x: 1, y: 2}, top: t}",
            ),
            // go-yaml v2 assigns in document order: a key written before `<<` is overwritten.
            // YAML 1.1's merge spec (and go-yaml v3) would keep `mine`; Prow runs v2.
            (
                "go-yaml v2: a key before << is overwritten by the merge",
                "x: {k: mine, <<: *a}",
                "{k: from-a, only_a: 1}",
            ),
            (
                "a merged mapping that itself merges",
                "c: &c {<<: *a, k: from-c}\nx: {<<: *c, z: 1}",
                "{k: from-c, only_a: 1, z: 1}",
            ),
            (
                "merges nest in values",
                "x: {spec: {<<: *nested, top: mine}}",
                "{spec: {inner: {x: 1, y: 2}, top: mine}}",
            ),
            (
                "merges inside sequences of mappings",
                "x: [{<<: *a, args: [1]}, {<<: *b}]",
                "[{k: from-a, only_a: 1, args: [1]}, {k: from-b, only_b: 2}]",
            ),
            (
                "the !!merge tag",
                "x: {!!merge '<<': *a}",
                "{k: from-a, only_a: 1}",
            ),
            (
                "a quoted '<<' is an ordinary key",
                "x: {'<<': 1}",
                "{'<<': 1}",
            ),
            (
                "an alias is the anchored value",
                "x: *a",
                "{k: from-a, only_a: 1}",
            ),
        ];
        for (name, text, want) in cases {
            let got = read(&format!("{ANCHORS}{text}\n")).unwrap();
            assert_eq!(got["x"], yaml(want), "{name}: {text}");
        }
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value() {
        let cases: &[(&str, &str)] = &[
            ("x: 1\nx: 2\n", "{x: 2}"),
            ("x: {a: 1}\ny: 0\nx: {b: 2}\n", "{x: {b: 2}, y: 0}"),
            ("m: {a: 1, a: 2, a: 3}\n", "{m: {a: 3}}"),
            // A repeat after a merge overrides it like any explicit key.
            (
                "a: &a {k: 1}\nm: {<<: *a, k: 2, k: 3}\n",
                "{a: {k: 1}, m: {k: 3}}",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(read(text).unwrap(), yaml(want), "{text}");
        }
        // serde_norway alone rejects them.
        assert!(serde_norway::from_str::<Value>("x: 1\nx: 2\n").is_err());
    }

    #[test]
    fn only_the_first_document_is_read_and_anchors_stay_in_theirs() {
        let doc = parse("a: &a {k: 1}\n---\nb: {<<: *a}\n").unwrap();
        assert_eq!(
            Value::deserialize(doc.deserializer()).unwrap(),
            yaml("{a: {k: 1}}")
        );
        assert_eq!(
            doc.ignored_document(),
            Some(Position { line: 2, column: 1 })
        );
        // The later document is never read, so its alias to the first one's anchor resolves to
        // nothing (yaml-rust2 alone would resolve it); an alias to an anchor written only in a
        // later document is unknown.
        let err = parse("b: *a\n---\na: &a 1\n").unwrap_err();
        assert!(err.to_string().contains("unknown anchor"), "{err}");
        // Trailing empty documents are not worth a warning.
        for text in ["a: 1\n---\n", "a: 1\n...\n", "---\na: 1\n--- \n---\n"] {
            assert_eq!(parse(text).unwrap().ignored_document(), None, "{text:?}");
        }
        assert_eq!(read("").unwrap(), Value::Null);
        assert_eq!(read("# only a comment\n").unwrap(), Value::Null);
    }

    #[test]
    fn bad_merges_and_aliases_are_errors_with_positions() {
        let cases: &[(&str, &str, usize)] = &[
            (
                "x:\n  <<: 1\n",
                "map merge requires map or sequence of maps",
                2,
            ),
            (
                "a: &a [1]\nx:\n  <<: *a\n",
                "map merge requires map or sequence of maps",
                3,
            ),
            // go-yaml v2: an alias after `<<` must name a mapping, even a list of mappings.
            (
                "a: &a {k: 1}\nl: &l [*a]\nx:\n  <<: *l\n",
                "map merge requires map or sequence of maps",
                4,
            ),
            (
                "a: &a {k: 1}\nx:\n  <<: [*a, [1]]\n",
                "map merge requires map or sequence of maps",
                3,
            ),
            ("x: *nope\n", "unknown anchor", 1),
            ("a: &a [1, *a]\n", "contains itself", 1),
            ("? [1]\n: x\n", "invalid map key", 1),
            ("a: [1, 2\n", "", 0),
        ];
        for (text, want, line) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.to_string().contains(want), "{text}: {err}");
            if *line > 0 {
                assert_eq!(err.position().map(|p| p.line), Some(*line), "{text}: {err}");
            }
        }
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let err = parse(&text).unwrap_err();
        assert!(err.to_string().contains("repetition limit"), "{err}");
        let err = parse(&"[".repeat(500)).unwrap_err();
        assert!(err.to_string().contains("recursion limit"), "{err}");
    }

    /// Untyped values read exactly as `serde_norway` reads them (its YAML 1.2 core schema).
    #[test]
    fn scalars_read_as_serde_norway_reads_them() {
        let text = "\
ints: [1, -2, +3, 0x1F, 0o17, 0b11, -0x10, 18446744073709551615]
floats: [1.5, -0.5, 1e3, .inf, -.inf, 6.02e+23]
strings: [012, '1', \"true\", yes, no, on, 1.2.3, 0x, abc, '', 1_000]
nulls: [~, null, Null, NULL, '~']
bools: [true, True, FALSE, false]
tagged: [!!str 1, !!int '7', !!bool 'true', !!float '2.5', !!null ~]
block: |
  line one
    two
folded: >
  a
  b
empty:
";
        let ours = read(text).unwrap();
        let theirs: Value = serde_norway::from_str(text).unwrap();
        for key in [
            "ints", "floats", "strings", "nulls", "bools", "block", "folded", "empty",
        ] {
            assert_eq!(ours[key], theirs[key], "{key}");
        }
        assert_eq!(ours["tagged"], yaml("['1', 7, true, 2.5, null]"));
        assert!(ours["floats"][3].as_f64().is_some_and(f64::is_infinite));
    }

    /// Typed fields read like `serde_norway`: any scalar is a string, numbers and bools must be.
    #[test]
    fn typed_fields_read_as_serde_norway_reads_them() {
        #[derive(Debug, PartialEq, Deserialize)]
        struct T {
            s: Vec<String>,
            n: Option<i64>,
            u: u32,
            b: bool,
            f: f64,
            o: Option<String>,
            q: Option<String>,
            unit: (),
        }
        let text =
            "s: [123, true, 1.50, ~x, '']\nn: ~\nu: 0x10\nb: True\nf: 3\no:\nq: ''\nunit: null\n";
        let ours: T = T::deserialize(parse(text).unwrap().deserializer()).unwrap();
        let theirs: T = serde_norway::from_str(text).unwrap();
        assert_eq!(ours, theirs);
        for bad in ["u: -1", "b: yes", "n: '1'", "s: {a: 1}"] {
            let ours = T::deserialize(parse(bad).unwrap().deserializer()).unwrap_err();
            let theirs = serde_norway::from_str::<T>(bad).unwrap_err().to_string();
            // serde_norway prefixes the field path and appends the position.
            assert!(
                theirs.contains(&ours.to_string()),
                "{bad}: {ours} vs {theirs}"
            );
            assert_eq!(ours.position().map(|p| p.line), Some(1), "{bad}");
        }
    }

    #[test]
    fn positions_point_where_the_winning_value_is_written() {
        let text = "\
base: &base
  image: alpine
  cpu: 1
jobs:
- <<: *base
  name: a
- name: b
  name: b2
";
        let doc = parse(text).unwrap();
        let at = |path: &[Seg]| doc.locate(path).map(|p| (p.line, p.column));
        // A merged key is found in the anchor; the job itself at its first key (the `<<`).
        assert_eq!(at(&["jobs".into(), 0.into(), "image".into()]), Some((2, 3)));
        assert_eq!(at(&["jobs".into(), 0.into()]), Some((5, 3)));
        assert_eq!(at(&["jobs".into(), 0.into(), "name".into()]), Some((6, 3)));
        // A repeated key, at its last occurrence.
        assert_eq!(at(&["jobs".into(), 1.into(), "name".into()]), Some((8, 3)));
        assert_eq!(at(&["jobs".into(), 0.into(), "nope".into()]), None);
        assert_eq!(
            doc.locate_nearest(&["jobs".into(), 0.into(), "nope".into()]),
            Position { line: 5, column: 3 }
        );
    }

    fn yaml_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                yaml_files(&path, out);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) {
                out.push(path);
            }
        }
    }

    /// Every file `serde_norway` reads (one document, no merge keys, no repeated keys) reads
    /// to the same value here; returns how many files were compared.
    fn same_values_as_serde_norway(dir: &std::path::Path) -> usize {
        let mut files = Vec::new();
        yaml_files(dir, &mut files);
        let mut compared = 0;
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let ours = read(&text);
            if text.contains("<<") {
                assert!(ours.is_ok(), "{}: {ours:?}", file.display());
                continue;
            }
            match serde_norway::from_str::<Value>(&text) {
                Ok(theirs) => {
                    assert_eq!(ours.unwrap(), theirs, "{}", file.display());
                    compared += 1;
                }
                // More than one document: ours reads the first.
                Err(e) => assert!(ours.is_ok(), "{}: {e} / {ours:?}", file.display()),
            }
        }
        compared
    }

    #[test]
    fn vendored_configs_read_as_serde_norway_reads_them() {
        assert!(same_values_as_serde_norway(&prow_testdata::testdata().join("prow")) > 10);
    }

    #[test]
    #[ignore = "needs PROW_CORPUS (the whole of Kubernetes' config)"]
    fn corpus_configs_read_as_serde_norway_reads_them() {
        let root = prow_testdata::corpus().join("prow");
        assert!(same_values_as_serde_norway(&root) > 500);
    }
}
