//! Tests of the query parser and compiler.
