//! The `icat-sim` binary: runs the simulator until killed.

fn main() {}
