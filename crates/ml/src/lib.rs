//! Vitrine's shared training code, below the crates that train models (`recsys`, and `imagegen`
//! to come). For now: plots of a training run's curves as PNG, with an embedded font, so a run
//! directory shows how training went without any other tool.

pub mod plot;

pub use plot::{Panel, PlotError, Series, write_panels};
