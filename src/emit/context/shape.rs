//! The machinery of the typed template context: leaves that keep where they
//! come from ([`Traced`], [`Maybe`]), the parts whose shape a schema of the
//! standard library declares ([`Values`]), and a description of every type
//! ([`Describe`]) from which `docs/templates.md` lists the context.
//!
//! [`context_type!`] declares a part of the context: the struct (with its doc
//! comments and `#[derive(Serialize)]`), its description (each field's name,
//! doc comment and shape) and the walk over its leaves, all from the one
//! declaration, so that neither the documentation nor the origins can drift
//! from what templates see. A derive-free description rather than `schemars`:
//! the documentation needs the doc comments and the nesting only, a JSON
//! Schema would have to be read back through `$ref`s to print them, and the
//! schema-driven parts are described by the standard library's schema at
//! run time, which a derive cannot see.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::{Serialize, Serializer};
use serde_json::{Map as JMap, Value as Json};

use super::Source;

/// Where a leaf comes from: a constant of platc itself, or the values it is
/// copied or composed from.
#[derive(Clone, Debug, PartialEq)]
pub enum Trace {
    Constant,
    From(Vec<Source>),
}

/// Whether the builder records the sources of the leaves it makes: off for
/// emit (no source is ever computed), on for [`super::sources`].
#[derive(Clone, Copy, Debug)]
pub struct Tracer(pub bool);

impl Tracer {
    /// A leaf and, when tracing, its sources.
    pub fn leaf<T>(self, value: T, from: impl FnOnce() -> Vec<Source>) -> Traced<T> {
        Traced { value, trace: self.trace(from) }
    }

    /// The sources of a part, when tracing.
    pub fn trace(self, from: impl FnOnce() -> Vec<Source>) -> Trace {
        Trace::From(if self.0 { from() } else { Vec::new() })
    }

    /// A possibly absent part: `None` is null, with its sources.
    pub fn maybe<T>(self, value: Option<T>, from: impl FnOnce() -> Vec<Source>) -> Maybe<T> {
        let none = match value {
            Some(_) => Trace::Constant,
            None => self.trace(from),
        };
        Maybe { value, none }
    }
}

/// A leaf of the context: serializes as its value and keeps its sources.
#[derive(Clone, Debug)]
pub struct Traced<T> {
    pub value: T,
    pub trace: Trace,
}

impl<T> Traced<T> {
    /// A constant of platc itself.
    pub fn constant(value: T) -> Traced<T> {
        Traced { value, trace: Trace::Constant }
    }
}

impl<T: Serialize> Serialize for Traced<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

/// A part that may be null; the null keeps why it is null.
#[derive(Debug)]
pub struct Maybe<T> {
    pub value: Option<T>,
    pub none: Trace,
}

impl<T: Serialize> Serialize for Maybe<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

/// The sources of a leaf of a [`Values`], by its path inside them.
pub type Rule = Arc<dyn Fn(&[String]) -> Trace + Send + Sync>;

/// Which schema declares the shape of a [`Values`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemaKind {
    /// `schema service` of the standard library.
    Service,
    /// `schema environment`.
    Environment,
    /// `schema api`.
    Api,
    /// A resource type's attributes.
    Resource,
    /// A `language` declaration.
    Language,
    /// The workspace's attributes (`platform.plat`).
    Workspace,
    /// A resource type's `access` levels.
    Access,
}

/// The schema of a [`Values`] type.
pub trait Schema {
    const KIND: SchemaKind;
}

macro_rules! schemas {
    ($($name:ident),*) => {$(
        #[doc = concat!("Marker: the values of `SchemaKind::", stringify!($name), "`.")]
        #[derive(Debug)]
        pub struct $name;
        impl Schema for $name {
            const KIND: SchemaKind = SchemaKind::$name;
        }
    )*};
}
pub mod kind {
    use super::{Schema, SchemaKind};
    schemas!(Service, Environment, Api, Resource, Language, Workspace, Access);
}

/// Values whose shape a schema declares, as templates see them (a JSON
/// object), and the rule that gives each leaf's sources (when tracing).
pub struct Values<K> {
    pub json: JMap<String, Json>,
    pub rule: Option<Rule>,
    kind: PhantomData<K>,
}

impl<K> Values<K> {
    pub fn new(json: JMap<String, Json>, rule: Option<Rule>) -> Values<K> {
        Values { json, rule, kind: PhantomData }
    }
}

impl<K> Serialize for Values<K> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(s)
    }
}

/// The shape of a part of the context, for its documentation.
pub enum Shape {
    /// A string, number, boolean or null.
    Leaf,
    List(Box<Shape>),
    /// A map with keys of the service's or workspace's choosing.
    Map(Box<Shape>),
    /// The shape, or null.
    Optional(Box<Shape>),
    /// Named fields.
    Record(Vec<FieldDoc>),
    /// Declared by a schema.
    Schema(SchemaKind),
}

/// A field of a [`Shape::Record`]: its name, doc comment (one string a
/// line) and shape; `flatten`: its fields are the record's own.
pub struct FieldDoc {
    pub name: &'static str,
    pub doc: Vec<&'static str>,
    pub flatten: bool,
    pub shape: Shape,
}

/// The shape of a type of the context.
pub trait Describe {
    fn shape() -> Shape;
}

macro_rules! leaf_types {
    ($($t:ty),*) => {$(
        impl Describe for $t {
            fn shape() -> Shape {
                Shape::Leaf
            }
        }
        impl Leaves for $t {
            fn leaves(&self, path: &mut Vec<String>, out: &mut dyn FnMut(&[String], Trace)) {
                out(path, Trace::Constant)
            }
        }
    )*};
}
leaf_types!(String, bool);

impl<T> Describe for Traced<T> {
    fn shape() -> Shape {
        Shape::Leaf
    }
}
impl<T: Describe> Describe for Maybe<T> {
    fn shape() -> Shape {
        Shape::Optional(Box::new(T::shape()))
    }
}
impl<T: Describe> Describe for Option<T> {
    fn shape() -> Shape {
        Shape::Optional(Box::new(T::shape()))
    }
}
impl<T: Describe> Describe for Vec<T> {
    fn shape() -> Shape {
        Shape::List(Box::new(T::shape()))
    }
}
impl<T: Describe> Describe for BTreeMap<String, T> {
    fn shape() -> Shape {
        Shape::Map(Box::new(T::shape()))
    }
}
impl<T: Describe> Describe for &T {
    fn shape() -> Shape {
        T::shape()
    }
}
impl<K: Schema> Describe for Values<K> {
    fn shape() -> Shape {
        Shape::Schema(K::KIND)
    }
}

/// The leaves of a part of the context: each path (object keys, list
/// indices as decimal strings) and its sources, in the order they are
/// serialized (a later one with the same path wins, as in the JSON).
pub trait Leaves {
    fn leaves(&self, path: &mut Vec<String>, out: &mut dyn FnMut(&[String], Trace));
}

/// Every scalar (null included) of a JSON value, by path.
pub fn json_leaves(j: &Json, path: &mut Vec<String>, out: &mut dyn FnMut(&[String])) {
    match j {
        Json::Object(o) => {
            for (k, v) in o {
                path.push(k.clone());
                json_leaves(v, path, out);
                path.pop();
            }
        }
        Json::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                path.push(i.to_string());
                json_leaves(v, path, out);
                path.pop();
            }
        }
        _ => out(path),
    }
}

impl<T: Serialize> Leaves for Traced<T> {
    fn leaves(&self, path: &mut Vec<String>, out: &mut dyn FnMut(&[String], Trace)) {
        // A composed object (a resource's outputs): every leaf of it has the
        // sources of the whole.
        let j = serde_json::to_value(&self.value).unwrap_or(Json::Null);
        json_leaves(&j, path, &mut |p| out(p, self.trace.clone()));
    }
}
impl<T: Leaves> Leaves for Maybe<T> {
    fn leaves(&self, path: &mut Vec<String>, out: &mut dyn FnMut(&[String], Trace)) {
        match &self.value {
            Some(v) => v.leaves(path, out),
            None => out(path, self.none.clone()),
        }
    }
}
/// An `Option` is a part that is left out when absent (not null).
impl<T: Leaves> Leaves for Option<T> {
    fn leaves(&self, path: &mut Vec<String>, out: &mut dyn FnMut(&[String], Trace)) {
        if let Some(v) = self {
            v.leaves(path, out);
        }
    }
}
impl<T: Leaves> Leaves for Vec<T> {
    fn leaves(&self, path: &mut Vec<String>, out: &mut dyn FnMut(&[String], Trace)) {
        for (i, v) in self.iter().enumerate() {
            path.push(i.to_string());
            v.leaves(path, out);
            path.pop();
        }
    }
}
impl<T: Leaves> Leaves for BTreeMap<String, T> {
    fn leaves(&self, path: &mut Vec<String>, out: &mut dyn FnMut(&[String], Trace)) {
        for (k, v) in self {
            path.push(k.clone());
            v.leaves(path, out);
            path.pop();
        }
    }
}
impl<T: Leaves> Leaves for &T {
    fn leaves(&self, path: &mut Vec<String>, out: &mut dyn FnMut(&[String], Trace)) {
        (*self).leaves(path, out)
    }
}
impl<K> Leaves for Values<K> {
    fn leaves(&self, path: &mut Vec<String>, out: &mut dyn FnMut(&[String], Trace)) {
        let at = path.len();
        let rule = self.rule.as_ref();
        for (k, v) in &self.json {
            path.push(k.clone());
            json_leaves(v, path, &mut |p| {
                let inside = p.get(at..).unwrap_or_default();
                out(p, rule.map(|r| r(inside)).unwrap_or(Trace::From(Vec::new())))
            });
            path.pop();
        }
    }
}

/// Declares a part of the context: the struct, its [`Describe`] and its
/// [`Leaves`]. Every field is `pub`, has a doc comment (what the
/// documentation says of it) and may have one `#[serde(...)]` attribute
/// (`flatten`: its fields are the part's own).
macro_rules! context_type {
    (
        $(#[doc = $sdoc:literal])*
        pub struct $name:ident $(<$lt:lifetime>)? {
            $(
                $(#[doc = $doc:literal])*
                $(#[serde($($serde:tt)*)])?
                pub $field:ident : $ty:ty
            ),* $(,)?
        }
    ) => {
        $(#[doc = $sdoc])*
        #[derive(serde::Serialize)]
        pub struct $name $(<$lt>)? {
            $(
                $(#[doc = $doc])*
                $(#[serde($($serde)*)])?
                pub $field: $ty,
            )*
        }
        impl $(<$lt>)? $crate::emit::context::shape::Describe for $name $(<$lt>)? {
            fn shape() -> $crate::emit::context::shape::Shape {
                $crate::emit::context::shape::Shape::Record(vec![$(
                    $crate::emit::context::shape::FieldDoc {
                        name: stringify!($field).trim_start_matches("r#"),
                        doc: vec![$($doc),*],
                        flatten: $crate::emit::context::shape::context_type!(@flatten $($($serde)*)?),
                        shape: <$ty as $crate::emit::context::shape::Describe>::shape(),
                    }
                ),*])
            }
        }
        impl $(<$lt>)? $crate::emit::context::shape::Leaves for $name $(<$lt>)? {
            fn leaves(
                &self,
                path: &mut Vec<String>,
                out: &mut dyn FnMut(&[String], $crate::emit::context::shape::Trace),
            ) {
                // The part's own fields win over a flattened part's of the
                // same name (they are serialized after it, and the JSON keeps
                // the last): the whole of it, not leaf by leaf (a resource's
                // `grants` list replaces the `grants` map of its values).
                let depth = path.len();
                let own: &[(&str, bool)] = &[$((
                    stringify!($field).trim_start_matches("r#"),
                    $crate::emit::context::shape::context_type!(@flatten $($($serde)*)?),
                )),*];
                let shadowed = |p: &[String]| p.get(depth).is_some_and(|k| own.iter().any(|(f, flat)| !flat && f == k));
                $(
                    if $crate::emit::context::shape::context_type!(@flatten $($($serde)*)?) {
                        let mut keep = |p: &[String], t: $crate::emit::context::shape::Trace| {
                            if !shadowed(p) {
                                out(p, t)
                            }
                        };
                        $crate::emit::context::shape::Leaves::leaves(&self.$field, path, &mut keep);
                    } else {
                        path.push(stringify!($field).trim_start_matches("r#").to_string());
                        $crate::emit::context::shape::Leaves::leaves(&self.$field, path, out);
                        path.pop();
                    }
                )*
            }
        }
    };
    // Whether a field's `#[serde(...)]` flattens it.
    (@flatten flatten) => { true };
    (@flatten $($other:tt)*) => { false };
}
pub(crate) use context_type;
