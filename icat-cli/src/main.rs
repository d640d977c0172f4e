//! The `icat` command-line tool.

fn main() {}
