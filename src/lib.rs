pub mod ast;
pub mod diag;
pub mod parse;
pub mod span;
