//! Data loading: a catalogue from python-icat's icatdump XML ([`icatdump`]) or a generated
//! synthetic facility with file contents made on read ([`synthetic`]).

pub mod icatdump;
pub mod synthetic;
