//! Shared helpers for the end-to-end tests (simulator start-up, temp dirs).
