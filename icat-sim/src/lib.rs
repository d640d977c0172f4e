//! A local ICAT + IDS server simulator.
