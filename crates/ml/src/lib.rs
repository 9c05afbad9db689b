//! Vitrine's shared training code, below the crates that train models (`recsys`, `imagegen`):
//! a run directory's checkpoint files written atomically, and plots of a training run's curves
//! as PNG, with an embedded font, so a run directory shows how training went without any other
//! tool.

pub mod checkpoint;
pub mod plot;

pub use checkpoint::CheckpointError;
pub use plot::{Panel, PlotError, Series, write_panels};
