//! Catalog and event import.
