pub mod ast;
pub mod diag;
pub mod merge;
pub mod parse;
pub mod schema;
pub mod span;
pub mod value;
