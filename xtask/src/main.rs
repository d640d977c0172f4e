//! Project automation (`cargo xtask codegen`).

fn main() {}
