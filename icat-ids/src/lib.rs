//! Client for the ICAT Data Service (IDS) REST API.
